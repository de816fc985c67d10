"""``q`` on the case list and its export (domain.md "Search and possible duplicates"): a case
matches when ``q`` is its reference, a member's document number, or words that each start a
word of one and the same member's names. Read from ``member_keys`` (one row per member), never
by scanning members.

Names are matched through the starts of words (app/services/names.py ``search_tokens``), so each
query word is one exact token:
- PostgreSQL: ``words @@ 'jose' & 'hern'`` over a GIN index; the planner walks the members in
  case order when the words are common (a page fills quickly) and asks the index when they
  are not.
- SQLite has no such planner: a page first walks the next ``WINDOW`` cases in id order
  (``Shape.window``), and only when they do not fill it asks the FTS5 index for the cases
  after them (``Shape.beyond``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.base import Executable

from app.db import SqlDialect
from app.models import Case, MemberKey
from app.models.member_key import SQLITE_WORDS_INDEX
from app.services import names

#: SQLite: how many cases a page walks in id order before asking the full-text index.
WINDOW = 2000
#: The highest UUID: a window that reaches the last case.
LAST = uuid.UUID(int=(1 << 128) - 1)
_FTS = table(SQLITE_WORDS_INDEX, column("rowid"), column(SQLITE_WORDS_INDEX))


class Shape(StrEnum):
    """How one statement finds the cases ``q`` matches."""

    indexed = "indexed"  # every index at once (PostgreSQL; SQLite without name words)
    window = "window"  # SQLite: the cases after the cursor up to ``window_end``, walked
    beyond = "beyond"  # SQLite: the cases after ``window_end``, from the full-text index


@dataclass(frozen=True)
class Search:
    """What one ``q`` looks for."""

    reference: str
    document: str | None
    words: tuple[str, ...]

    @classmethod
    def of(cls, q: str) -> Search:
        return cls(
            reference=q.strip().upper(),
            document=names.document_key(q),
            words=tuple(names.search_words(q)),
        )

    def shapes(self, dialect: SqlDialect) -> tuple[Shape, ...]:
        """The statements a page takes, in order (the second only if the first is short)."""
        if dialect.is_postgresql or not self.words:
            return (Shape.indexed,)
        return Shape.window, Shape.beyond

    def params(self, dialect: SqlDialect, shape: Shape) -> dict[str, Any]:
        values: dict[str, Any] = {"q_reference": self.reference, "q_document": self.document}
        if not self.words:
            return values
        if shape is Shape.window:
            values.update({f"q_word_{n}": f" {word} " for n, word in enumerate(self.words)})
        elif dialect.is_postgresql:
            values["q_words"] = " & ".join(f"'{word}'" for word in self.words)
        else:
            values["q_words"] = " ".join(f'"{word}"' for word in self.words)
        return values


def _words_match(dialect: SqlDialect, shape: Shape, word_count: int) -> ColumnElement[bool]:
    keys = MemberKey.__table__.c
    if shape is Shape.window:  # a member's tokens, space-separated, hold each word
        spaced = " " + type_coerce(keys.words, Text) + " "
        return and_(*(func.instr(spaced, bindparam(f"q_word_{n}")) > 0 for n in range(word_count)))
    if dialect.is_postgresql:
        return keys.words.bool_op("@@")(cast(bindparam("q_words", type_=Text), TSQUERY))
    fts = _FTS.c[SQLITE_WORDS_INDEX].match(bindparam("q_words"))
    return literal_column("member_keys.rowid").in_(select(_FTS.c.rowid).where(fts))


@cache
def matching(
    dialect: SqlDialect, shape: Shape, word_count: int, after: bool
) -> ColumnElement[bool]:
    """The cases ``q`` finds, as a filter on ``cases`` (its values from ``Search.params``):
    one ``IN`` over ``member_keys``, whose conditions are all on one row of it, so the
    database can take them from its indexes or check them while walking in case order."""
    keys = MemberKey.__table__.c
    by_reference = select(Case.id).where(Case.reference == bindparam("q_reference", type_=String))
    arms = [
        keys.case_id == by_reference.scalar_subquery(),
        keys.document == bindparam("q_document", type_=String),
    ]
    if word_count:
        arms.append(_words_match(dialect, shape, word_count))
    members: Select[Any] = select(keys.case_id).where(or_(*arms))
    if shape is Shape.window:  # the walk starts at the cursor
        members = members.where(keys.case_id <= bindparam("window_end"))
        if after:
            members = members.where(keys.case_id > bindparam("after"))
    elif shape is Shape.beyond:
        members = members.where(keys.case_id > bindparam("window_end"))
    return Case.id.in_(members)


def window_end_query(after: bool) -> Executable:
    """The id of the last case of the window a SQLite page walks (none: fewer remain)."""
    query = select(Case.id).order_by(Case.id).offset(WINDOW - 1).limit(1)
    return query.where(Case.id > bindparam("after")) if after else query
