"""What the database keeps of each member to find it again, written with the member."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

#: The starts of a member's words: a tsvector with a GIN index on PostgreSQL; text on
#: SQLite, indexed by the FTS5 table ``member_words`` (migration 0009 creates it and the
#: triggers that keep it in step; it is invisible to the models).
SearchWords = TSVECTOR().with_variant(Text(), "sqlite")
#: SQLite's full-text index of ``member_keys.words`` (external content, rowid for rowid).
SQLITE_WORDS_INDEX = "member_words"


def _postgresql_only(index: Index) -> Index:
    """An index made on PostgreSQL only (``info`` tells Alembic's comparison: app/migrate.py)."""
    index.info["only"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


class MemberKey(Base):
    """One row per member (app/services/names.py ``member_keys``): the starts of the words of
    its names and those words themselves for search, its normalised document number, and the
    three blocks of its name key for possible duplicates. Written in the same transaction as
    the member (created, changed, moved by a split), so search and duplicates read these
    indexes, never the members."""

    __tablename__ = "member_keys"
    __table_args__ = (
        Index(
            "ix_member_keys_document",
            "document",
            sqlite_where=text("document IS NOT NULL"),
            postgresql_where=text("document IS NOT NULL"),
        ),
        Index("ix_member_keys_name_head", "name_head"),
        Index("ix_member_keys_name_ends", "name_ends"),
        Index("ix_member_keys_name_tail", "name_tail"),
        _postgresql_only(Index("ix_member_keys_words", "words", postgresql_using="gin")),
        # What a search's walk reads (app/services/search.py ``Shape.window``), in case order,
        # from the index alone: a fifth of the pages of the rows themselves.
        _postgresql_only(
            Index("ix_member_keys_walk", "case_id", postgresql_include=["names", "document"])
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    words: Mapped[str] = mapped_column(SearchWords)
    document: Mapped[str | None] = mapped_column(String(64))
    name_head: Mapped[str] = mapped_column(String)
    name_ends: Mapped[str] = mapped_column(String)
    name_tail: Mapped[str] = mapped_column(String)
    #: the words of its names, folded, in order, space-separated (what a walk checks)
    names: Mapped[str] = mapped_column(String)
