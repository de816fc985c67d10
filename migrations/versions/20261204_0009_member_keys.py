"""member keys for search and possible duplicates

``member_keys`` holds, one row per member, what search (``q``) and possible duplicates read
instead of the members: the starts of the words of its names (a tsvector with a GIN index on
PostgreSQL; text on SQLite, indexed by the FTS5 table ``member_words`` and kept in step with it
by triggers) and the words themselves (read by a search's walk, from a covering index on
PostgreSQL), its normalised document number and the three blocks of its name key
(app/services/names.py ``member_keys``, the same function the service writes them with). The
keys of every existing member are filled in here; no existing row is changed.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.services.names import member_keys

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The three blocks of a member's name key (app/services/names.py ``name_blocks``).
BLOCKS = ("name_head", "name_ends", "name_tail")
#: Members read and key rows written per round trip while filling in.
CHUNK = 5000
#: SQLite: the full-text index of member_keys.words and the triggers that keep it in step
#: (FTS5 "external content": it indexes the rows of member_keys by rowid).
SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE member_words USING fts5("
    "words, content='member_keys', content_rowid='rowid', tokenize='ascii', detail='none')",
    "CREATE TRIGGER member_keys_added AFTER INSERT ON member_keys BEGIN "
    "INSERT INTO member_words (rowid, words) VALUES (new.rowid, new.words); END",
    "CREATE TRIGGER member_keys_removed AFTER DELETE ON member_keys BEGIN "
    "INSERT INTO member_words (member_words, rowid, words) "
    "VALUES ('delete', old.rowid, old.words); END",
    "CREATE TRIGGER member_keys_changed AFTER UPDATE OF words ON member_keys BEGIN "
    "INSERT INTO member_words (member_words, rowid, words) "
    "VALUES ('delete', old.rowid, old.words); "
    "INSERT INTO member_words (rowid, words) VALUES (new.rowid, new.words); END",
)


def upgrade() -> None:
    op.create_table(
        "member_keys",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("words", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=True),
        sa.Column("name_head", sa.String(), nullable=False),
        sa.Column("name_ends", sa.String(), nullable=False),
        sa.Column("name_tail", sa.String(), nullable=False),
        sa.Column("names", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_member_keys_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "member_id", name=op.f("pk_member_keys")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_INDEX:
            op.execute(statement)
    _fill(bind)
    op.create_index(
        "ix_member_keys_document",
        "member_keys",
        ["document"],
        sqlite_where=sa.text("document IS NOT NULL"),
        postgresql_where=sa.text("document IS NOT NULL"),
    )
    for block in BLOCKS:
        op.create_index(f"ix_member_keys_{block}", "member_keys", [block])
    if bind.dialect.name == "postgresql":
        op.create_index("ix_member_keys_words", "member_keys", ["words"], postgresql_using="gin")
        op.create_index(
            "ix_member_keys_walk",
            "member_keys",
            ["case_id"],
            postgresql_include=["names", "document"],
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
        *(sa.column(name) for name in ("document", *BLOCKS, "names")),
        sa.column("case_id", sa.Uuid()),
        sa.column("member_id", sa.Uuid()),
        sa.column("words", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")),
    )
    query = sa.select(members).order_by(members.c.id).limit(CHUNK)
    after = None
    while True:
        page = query if after is None else query.where(members.c.id > after)
        rows = bind.execute(page).all()
        if not rows:
            return
        values = [
            {
                "case_id": row.case_id,
                "member_id": row.id,
                **asdict(
                    member_keys(
                        row.given_name, row.family_name, row.date_of_birth, row.document_number
                    )
                ),
            }
            for row in rows
        ]
        bind.execute(keys.insert(), values)
        after = rows[-1].id


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_index("ix_member_keys_walk", table_name="member_keys")
        op.drop_index("ix_member_keys_words", table_name="member_keys")
    for block in reversed(BLOCKS):
        op.drop_index(f"ix_member_keys_{block}", table_name="member_keys")
    op.drop_index("ix_member_keys_document", table_name="member_keys")
    if bind.dialect.name == "sqlite":
        for trigger in ("member_keys_added", "member_keys_removed", "member_keys_changed"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE member_words")
    op.drop_table("member_keys")
