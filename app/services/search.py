"""``q`` on the case list and its export (domain.md "Search and possible duplicates"): a case
matches when ``q`` is its reference, a member's document number, or words that each start a
word of one and the same member's names. Read from ``member_keys`` (one row per member), never
by scanning members.

Names are matched through the starts of words (app/services/names.py ``search_tokens``), so each
query word is one exact token: ``words @@ 'jose' & 'hern'`` over a GIN index on PostgreSQL, an
FTS5 ``MATCH`` on SQLite. Such an index finds a rare name at once but every hit of a common
one (all the José Hernández of a million cases) before the page can be cut; walking the members
in case order finds a common name's first page at once but a rare name only at the end. Which
one a query needs cannot be told from it (PostgreSQL's estimate for a word it has no statistics
about is a constant, and prepared statements drop to generic plans), so a page does both, each
bounded:
1. ``Shape.window`` walks the keys of the next ``WINDOW`` cases after the cursor in case
   order (the words checked on each member's ``names``, never through the full-text index;
   PostgreSQL reads them from a narrow covering index);
2. only if the window did not fill the page, ``Shape.beyond`` asks the indexes for the cases
   after the window.
On PostgreSQL each takes its hits as one array first, then the cases by primary key (no plan
walks further than the window).
A ``q`` with a digit (a reference, a document number) skips the walk: the indexes from the
cursor on (``Shape.beyond``); one without words at all (only punctuation) needs the reference
and document indexes only (``Shape.indexed``).
Measured at 1 M cases (README "Search and possible duplicates"): a common name fills its page
in the window; a rare one costs the walk (≈ 5 ms) and a few index lookups; the slowest are
names held by about one case in a hundred (the window holds a few, the index the rest).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.sql.base import Executable

from app.db import Db, SqlDialect
from app.models import Case, MemberKey
from app.models.member_key import SQLITE_WORDS_INDEX
from app.services import names

#: How many cases a page walks in case order before asking the indexes (a name held by more
#: than one case in a hundred fills a page within it).
WINDOW = 5000
#: The highest UUID: a window that reaches the last case; the lowest: no window at all.
LAST = uuid.UUID(int=(1 << 128) - 1)
FIRST = uuid.UUID(int=0)
_FTS = table(SQLITE_WORDS_INDEX, column("rowid"), column(SQLITE_WORDS_INDEX))


class Shape(StrEnum):
    """How one statement finds the cases ``q`` matches."""

    indexed = "indexed"  # no name words: the reference and document indexes
    window = "window"  # the cases after the cursor up to ``window_end``, walked in order
    beyond = "beyond"  # the cases after ``window_end``, from the indexes


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

    @property
    def shapes(self) -> tuple[Shape, ...]:
        """The statements a page takes, in order (the second only if the first is short)."""
        if not self.words:
            return (Shape.indexed,)
        if self.holds_number:
            return (Shape.beyond,)
        return Shape.window, Shape.beyond

    @property
    def holds_number(self) -> bool:
        """A word holds a digit: a reference or a document number, or names with a word no
        name is likely to hold — few hits, which the indexes find at once, so no walk is
        worth it (names are still looked up, through the index: ``Shape.beyond`` from the
        cursor)."""
        return any(char.isdigit() for word in self.words for char in word)

    def params(self, dialect: SqlDialect, shape: Shape) -> dict[str, Any]:
        values: dict[str, Any] = {"q_reference": self.reference, "q_document": self.document}
        if not self.words:
            return values
        if shape is Shape.window:  # a word starts a word of the names (words hold no % or _)
            values.update({f"q_word_{n}": f"% {word}%" for n, word in enumerate(self.words)})
        elif dialect.is_postgresql:
            values["q_words"] = " & ".join(f"'{word}'" for word in self.words)
        else:
            values["q_words"] = " ".join(f'"{word}"' for word in self.words)
        return values


def _words_match(dialect: SqlDialect, shape: Shape, word_count: int) -> ColumnElement[bool]:
    """The member has every query word among its tokens: checked on its ``names`` while
    walking (``Shape.window``; on PostgreSQL read from the covering index
    ``ix_member_keys_walk``), else through the full-text index."""
    keys = MemberKey.__table__.c
    if shape is Shape.window:
        spaced = " " + keys.names
        return and_(*(spaced.like(bindparam(f"q_word_{n}")) for n in range(word_count)))
    if dialect.is_postgresql:
        return keys.words.bool_op("@@")(cast(bindparam("q_words", type_=Text), TSQUERY))
    fts = _FTS.c[SQLITE_WORDS_INDEX].match(bindparam("q_words"))
    return literal_column("member_keys.rowid").in_(select(_FTS.c.rowid).where(fts))


@cache
def matching(
    dialect: SqlDialect, shape: Shape, word_count: int, after: bool
) -> ColumnElement[bool]:
    """The cases ``q`` finds, as a filter on ``cases`` (its values from ``Search.params``,
    ``after`` and ``window_end``): conditions on one row of ``member_keys`` each."""
    keys = MemberKey.__table__.c
    by_reference = select(Case.id).where(Case.reference == bindparam("q_reference", type_=String))
    arms = [
        keys.case_id == by_reference.scalar_subquery(),
        keys.document == bindparam("q_document", type_=String),
    ]
    if word_count:
        arms.append(_words_match(dialect, shape, word_count))
    members: Select[Any] = select(keys.case_id).where(or_(*arms))
    if shape is Shape.indexed:
        return Case.id.in_(members)
    end: BindParameter[uuid.UUID] = bindparam("window_end")
    if shape is Shape.window:  # from the cursor to the window's end
        members = members.where(keys.case_id <= end)
        if after:
            members = members.where(keys.case_id > bindparam("after"))
        bounds = Case.id <= end
    else:
        members = members.where(keys.case_id > end)
        bounds = Case.id > end
    if dialect.is_postgresql:
        # The hits first, as one array (an InitPlan: the window's by walking its keys, those
        # past it from the indexes), then those cases by primary key in id order. No join is
        # left to the planner, whose estimates of a word's hits and of a range of ids are
        # guesses: it merge-joined the cases from the first one (32 ms for one document) and
        # nested-looped the window's keys once per case (over 5 s).
        return Case.id == any_(func.array(members.scalar_subquery(), type_=ARRAY(Uuid())))
    return and_(bounds, Case.id.in_(members))


@cache
def _window_end_query(after: bool, window: int) -> Executable:
    query = select(Case.id).order_by(Case.id).offset(window - 1).limit(1)
    return query.where(Case.id > bindparam("after")) if after else query


async def window_end(db: Db, after: uuid.UUID | None, shapes: tuple[Shape, ...]) -> uuid.UUID:
    """The id of the last case of the window a page walks from the cursor (``LAST`` when
    fewer cases remain: the window reaches the end); without a walk, the cursor itself."""
    if Shape.window not in shapes:
        return after or FIRST
    query = _window_end_query(after is not None, WINDOW)
    end: uuid.UUID | None = await db.scalar(query, {"after": after} if after else {})
    return end or LAST
