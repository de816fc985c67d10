"""member keys for search and possible duplicates

``member_keys`` holds what search (``q``) and possible duplicates read instead of the members:
each member's search words, its normalised document number and the two blocks of its name key
(app/services/names.py ``member_keys``, the same function the service writes them with). The
keys of every existing member are filled in here; no existing row is changed.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.services.names import member_keys

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("word", "document", "name_start", "name_end")
#: Members read and keys written per round trip while filling in.
CHUNK = 5000


def upgrade() -> None:
    op.create_table(
        "member_keys",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "key",
            sa.String().with_variant(sa.String(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            f"kind IN ({', '.join(repr(k) for k in KINDS)})", name=op.f("ck_member_keys_kind")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_member_keys_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "member_id", "kind", "key", name=op.f("pk_member_keys")),
    )
    _fill(op.get_bind())
    op.create_index(
        "ix_member_keys_kind_key", "member_keys", ["kind", "key", "case_id", "member_id"]
    )


def _fill(bind: sa.Connection) -> None:
    """The keys of every member, a chunk of members at a time (in member id order)."""
    members = sa.table(
        "members",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("given_name", sa.String()),
        sa.column("family_name", sa.String()),
        sa.column("date_of_birth", sa.Date()),
        sa.column("document_number", sa.String()),
    )
    keys = sa.table(
        "member_keys",
        sa.column("case_id", sa.Uuid()),
        sa.column("member_id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("key", sa.String()),
    )
    query = sa.select(members).order_by(members.c.id).limit(CHUNK)
    after = None
    while True:
        page = query if after is None else query.where(members.c.id > after)
        rows = bind.execute(page).all()
        if not rows:
            return
        values = [
            {"case_id": row.case_id, "member_id": row.id, "kind": str(kind), "key": key}
            for row in rows
            for kind, key in member_keys(
                row.given_name, row.family_name, row.date_of_birth, row.document_number
            )
        ]
        bind.execute(keys.insert(), values)
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_member_keys_kind_key", table_name="member_keys")
    op.drop_table("member_keys")
