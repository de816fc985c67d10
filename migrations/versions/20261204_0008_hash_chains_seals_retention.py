"""hash-chained history, seals, subject access and retention

Every case event gets its ``hash`` (app/chain.py: SHA-256 over the case's previous event's
hash and the event's content), computed here for the history already there, case by case in
id order; ``payload_digest`` stays null until a payload is erased. The access log gets the
reader's ``country`` (filled from the users as they are now: the best there is for old rows)
and the action ``subject_access``; ``seals`` starts empty (the first seal covers every
access-log row from id 1). Cases get ``legal_hold`` (false) and ``erased_at`` (null). No
existing row is removed or changed outside these new columns.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app import chain
from app.models.base import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACTIONS = ("view", "list", "events", "export", "report")
NEW_ACTIONS = (*OLD_ACTIONS, "subject_access")
#: cases whose events are hashed per round trip
CASES_PER_BATCH = 1000
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("SET LOCAL statement_timeout = 0")  # hashing a long history takes a while
    # Plain ADD COLUMN on cases (a rebuild of cases on SQLite would take its cascading
    # children with it).
    op.add_column(
        "cases",
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("cases", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("case_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.add_column("case_events", sa.Column("payload_digest", sa.String(length=64), nullable=True))
    _hash_history(bind)
    with op.batch_alter_table("case_events") as batch:
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)

    op.add_column("access_log", sa.Column("country", sa.String(length=3), nullable=True))
    op.execute(
        "UPDATE access_log SET country = "
        "(SELECT users.country FROM users WHERE users.id = access_log.user_id)"
    )
    _access_actions(bind, NEW_ACTIONS)
    op.create_table(
        "seals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_id", BigId, nullable=False),
        sa.Column("last_id", BigId, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_event_id", BigId, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
    )


EVENTS = sa.table(
    "case_events",
    sa.column("id", BigId),
    sa.column("case_id", sa.Uuid()),
    sa.column("at", UTCDateTime()),
    sa.column("action", sa.String()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
    sa.column("user_id", sa.Uuid()),
    sa.column("role", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("hash", sa.String()),
)
CASES = sa.table("cases", sa.column("id", sa.Uuid()))


def _hash_history(bind: sa.Connection) -> None:
    """Each case's chain, oldest event first, a thousand cases at a time (bounded memory)."""
    events = (
        sa.select(EVENTS)
        .where(EVENTS.c.case_id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(EVENTS.c.case_id, EVENTS.c.id)
    )
    write = (
        EVENTS.update()
        .where(EVENTS.c.id == sa.bindparam("k_id"))
        .values(hash=sa.bindparam("k_hash"))
    )
    page = sa.select(CASES.c.id).order_by(CASES.c.id).limit(CASES_PER_BATCH)
    ids = bind.execute(page).scalars().all()
    while ids:
        hashes, previous, case = [], chain.ZERO_HASH, None
        for row in bind.execute(events, {"ids": list(ids)}).mappings():
            if row["case_id"] != case:
                case, previous = row["case_id"], chain.ZERO_HASH
            previous = chain.hash_of_row({**row, "payload_digest": None}, previous)
            hashes.append({"k_id": row["id"], "k_hash": previous})
        if hashes:
            bind.execute(write, hashes)
        ids = bind.execute(page.where(CASES.c.id > ids[-1])).scalars().all()


def _access_actions(bind: sa.Connection, actions: Sequence[str]) -> None:
    """The access log's action CHECK. SQLite rebuilds the table for it, and dropping the old
    table would cascade to ``access_log_cases``: its rows are kept aside and put back."""
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMPORARY TABLE kept_links AS SELECT * FROM access_log_cases")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_constraint(op.f("ck_access_log_action"), type_="check")
        batch.create_check_constraint("action", _in("action", actions))
    if sqlite:
        op.execute("DELETE FROM access_log_cases")
        op.execute(
            "INSERT INTO access_log_cases (access_log_id, case_id) "
            "SELECT access_log_id, case_id FROM kept_links"
        )
        op.execute("DROP TABLE kept_links")


def downgrade() -> None:
    # Refused (by the old CHECK) while the access log holds subject_access reads.
    op.drop_table("seals")
    _access_actions(op.get_bind(), OLD_ACTIONS)
    op.drop_column("access_log", "country")
    op.drop_column("case_events", "payload_digest")
    op.drop_column("case_events", "hash")
    op.drop_column("cases", "erased_at")
    op.drop_column("cases", "legal_hold")
