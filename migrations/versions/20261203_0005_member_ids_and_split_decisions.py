"""member ids, member milestone dates and split decisions

Every member gets an ``id`` (UUID) that never changes, and the days it reached each funnel
stage: existing members take their case's milestone dates, which is what the funnel counted
for them until now (the current members of each case), so every figure stays the same.
Submissions get ``accepted_members`` (an accepted one: every current member, the only
acceptance there was) and ``split`` (false); cases get ``split_from`` and ``split_into``.
No existing row is removed or changed outside these new columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MILESTONES = ("identified_at", "first_submitted_at", "transit_entered_at", "resettled_at")


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("id", sa.Uuid(), nullable=True))
        for name in MILESTONES:
            batch.add_column(sa.Column(name, sa.Date(), nullable=True))
    # Plain ADD COLUMN, never a table rebuild: on SQLite, rebuilding ``cases`` drops the old
    # table, and its ON DELETE CASCADE children (members, submissions, ...) would go with it.
    op.add_column("submissions", sa.Column("accepted_members", sa.JSON(), nullable=True))
    op.add_column(
        "submissions",
        sa.Column("split", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("cases", sa.Column("split_from", sa.Uuid(), nullable=True))
    op.add_column("cases", sa.Column("split_into", sa.JSON(), nullable=True))

    bind = op.get_bind()
    _fill_member_ids(bind)
    members = sa.table("members", sa.column("case_id", sa.Uuid()), *map(sa.column, MILESTONES))
    cases = sa.table("cases", sa.column("id", sa.Uuid()), *map(sa.column, MILESTONES))
    op.execute(
        members.update().values(
            {
                name: sa.select(cases.c[name])
                .where(cases.c.id == members.c.case_id)
                .scalar_subquery()
                for name in MILESTONES
            }
        )
    )
    _fill_accepted_members(bind)

    with op.batch_alter_table("members") as batch:
        batch.alter_column("id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("identified_at", existing_type=sa.Date(), nullable=False)
        batch.create_index("uq_members_id", ["id"], unique=True)
        batch.create_index("ix_members_identified_at", ["identified_at"])


def _fill_member_ids(bind: sa.Connection) -> None:
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE members SET id = gen_random_uuid()")
        return
    members = sa.table(
        "members",
        sa.column("case_id", sa.Uuid()),
        sa.column("position"),
        sa.column("id", sa.Uuid()),
    )
    keys = bind.execute(sa.select(members.c.case_id, members.c.position)).all()
    if keys:
        bind.execute(
            members.update()
            .where(
                members.c.case_id == sa.bindparam("k_case"),
                members.c.position == sa.bindparam("k_position"),
            )
            .values(id=sa.bindparam("k_id")),
            [{"k_case": c, "k_position": p, "k_id": uuid.uuid4()} for c, p in keys],
        )


def _fill_accepted_members(bind: sa.Connection) -> None:
    """An accepted submission accepted the whole household (the only acceptance there was)."""
    members = sa.table(
        "members",
        sa.column("case_id", sa.Uuid()),
        sa.column("position"),
        sa.column("id", sa.Uuid()),
    )
    submissions = sa.table(
        "submissions",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("status"),
        sa.column("accepted_members", sa.JSON()),
    )
    accepted = bind.execute(
        sa.select(submissions.c.id, submissions.c.case_id).where(submissions.c.status == "accepted")
    ).all()
    if not accepted:
        return
    ids: dict[uuid.UUID, list[str]] = defaultdict(list)
    rows = bind.execute(
        sa.select(members.c.case_id, members.c.id)
        .where(
            members.c.case_id.in_(
                sa.select(submissions.c.case_id).where(submissions.c.status == "accepted")
            )
        )
        .order_by(members.c.case_id, members.c.position)
    )
    for case_id, member_id in rows:
        ids[case_id].append(str(member_id))
    bind.execute(
        submissions.update()
        .where(submissions.c.id == sa.bindparam("k_id"))
        .values(accepted_members=sa.bindparam("k_members")),
        [{"k_id": sub_id, "k_members": ids[case_id]} for sub_id, case_id in accepted],
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    op.drop_index("ix_members_identified_at", table_name="members")
    op.drop_index("uq_members_id", table_name="members")
    for table, column in (
        *(("members", name) for name in (*reversed(MILESTONES), "id")),
        ("submissions", "split"),
        ("submissions", "accepted_members"),
        ("cases", "split_into"),
        ("cases", "split_from"),
    ):
        op.drop_column(table, column)
