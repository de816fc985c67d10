"""What the database keeps of each member to find it again, written with the member."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of
from app.vocabulary import MemberKeyKind

#: Keys compare by code point (prefix ranges of words): PostgreSQL's "C" collation, SQLite's
#: default BINARY.
KeyText = String().with_variant(String(collation="C"), "postgresql")


class MemberKey(Base):
    """One normalised key of a member (app/services/names.py ``member_keys``): a search word
    of its names, its document number, or a block of its name for possible duplicates.
    Written in the same transaction as the member (created, changed, moved by a split), so
    search and duplicates read this index and never the members."""

    __tablename__ = "member_keys"
    __table_args__ = (
        one_of("kind", MemberKeyKind),
        Index("ix_member_keys_kind_key", "kind", "key", "case_id", "member_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[MemberKeyKind] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(KeyText, primary_key=True)
