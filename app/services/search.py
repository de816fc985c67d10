"""``q`` on the case list and its export (domain.md "Search and possible duplicates"): a case
matches when ``q`` is its reference, a member's document number, or words that each start a
word of one and the same member's names — read from indexes only (``cases.reference`` and
``member_keys``), never by scanning members."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, exists, select, union_all
from sqlalchemy.orm import aliased

from app.models import Case, MemberKey
from app.services import names
from app.vocabulary import MemberKeyKind

#: The key column's type, so a bound word compares in the column's collation (an index range).
_KEY = MemberKey.__table__.c.key.type


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

    def params(self) -> dict[str, Any]:
        values: dict[str, Any] = {"q_reference": self.reference, "q_document": self.document}
        for n, word in enumerate(self.words):
            values[f"q_from_{n}"], values[f"q_to_{n}"] = names.prefix_range(word)
        return values


def _word(key: Any, n: int) -> list[ColumnElement[bool]]:
    """The key is a word starting with the query's ``n``-th word (an index range)."""
    return [
        key.kind == MemberKeyKind.word,
        key.key >= bindparam(f"q_from_{n}", type_=_KEY),
        key.key < bindparam(f"q_to_{n}", type_=_KEY),
    ]


@cache
def matching(word_count: int) -> ColumnElement[bool]:
    """The cases ``q`` finds, as a filter on ``cases`` (its values from ``Search.params``):
    one ``IN`` over three index lookups, so the database joins the few hits to the cases
    instead of testing every case."""
    by_reference = select(Case.id.label("case_id")).where(
        Case.reference == bindparam("q_reference", type_=String)
    )
    by_document = select(MemberKey.case_id).where(
        MemberKey.kind == MemberKeyKind.document,
        MemberKey.key == bindparam("q_document", type_=_KEY),
    )
    hits = [by_reference, by_document]
    if word_count:
        first = aliased(MemberKey)
        by_names = select(first.case_id).where(*_word(first, 0))
        for n in range(1, word_count):
            other = aliased(MemberKey)
            same_member = exists(
                select(other.key).where(
                    other.case_id == first.case_id,
                    other.member_id == first.member_id,
                    *_word(other, n),
                )
            )
            by_names = by_names.where(same_member)
        hits.append(by_names)
    return Case.id.in_(union_all(*hits))
