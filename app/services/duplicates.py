"""Possible duplicates of a case (domain.md "Search and possible duplicates"): members of other
cases who may be the same person as one of its members. Candidates come from ``member_keys``
(document numbers and name blocks, by index); each pair is then judged here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.sql.base import Executable

from app.db import Db, SqlDialect
from app.models import Case, Member, MemberKey
from app.schemas.duplicates import PossibleDuplicate
from app.services import audit, names, policy
from app.services.policy import Actor, Permission
from app.services.records import load_record
from app.vocabulary import AccessAction, DuplicateReason, Role

#: Strongest first: a pair is reported once, for the first reason that holds.
STRENGTH = tuple(DuplicateReason)


@dataclass(frozen=True)
class Person:
    """A member as compared: its name key, date of birth and document key."""

    key: str
    born: date
    document: str | None

    @classmethod
    def of(cls, member: Any) -> Person:
        return cls(
            names.person_key(member["given_name"], member["family_name"]),
            member["date_of_birth"],
            names.document_key(member["document_number"]),
        )


def reason(mine: Person, other: Person) -> DuplicateReason | None:
    """The strongest reason two members may be the same person, if any (an empty name is
    never compared)."""
    if mine.document is not None and mine.document == other.document:
        return DuplicateReason.document_number
    if not mine.key or not other.key:
        return None
    if mine.key == other.key and mine.born == other.born:
        return DuplicateReason.name_and_date_of_birth
    if mine.born.year == other.born.year and names.one_slip_apart(mine.key, other.key):
        return DuplicateReason.similar_name_and_birth_year
    return None


@cache
def _candidates(dialect: SqlDialect, role: Role) -> Executable:
    """Members of other cases sharing a document number or a name block with the ones given
    (three index lookups, one row of ``member_keys`` each)."""
    wanted = select(MemberKey.member_id).where(
        or_(
            dialect.in_list(MemberKey.document, "documents"),
            dialect.in_list(MemberKey.name_head, "heads"),
            dialect.in_list(MemberKey.name_ends, "ends"),
            dialect.in_list(MemberKey.name_tail, "tails"),
        ),
        MemberKey.case_id != bindparam("case_id"),
    )
    return (
        select(
            Member.id,
            Member.case_id,
            Member.given_name,
            Member.family_name,
            Member.date_of_birth,
            Member.document_number,
            Case.reference,
        )
        .join(Case, Case.id == Member.case_id)
        .where(Member.id.in_(wanted), policy.visible_cases(role))
        .order_by(Member.case_id, Member.position)
    )


def _lookups(people: list[Person]) -> dict[str, list[str]]:
    documents: set[str] = set()
    heads: set[str] = set()
    ends: set[str] = set()
    tails: set[str] = set()
    for person in people:
        if person.document is not None:
            documents.add(person.document)
        if person.key:
            near = names.blocks_within_one_slip(person.key, person.born)
            heads, ends, tails = heads | near[0], ends | near[1], tails | near[2]
    return {
        "documents": sorted(documents),
        "heads": sorted(heads),
        "ends": sorted(ends),
        "tails": sorted(tails),
    }


def candidates(
    db: Db, actor: Actor, case_id: uuid.UUID, people: list[Person]
) -> tuple[Executable, dict[str, Any]]:
    """The statement that reads the possible duplicates of these members of a case, and its
    parameters."""
    params = {**_lookups(people), "case_id": case_id, **policy.scope_params(actor)}
    return _candidates(db.dialect, actor.role), params


async def possible_duplicates(
    db: Db, actor: Actor, case_id: uuid.UUID, now: datetime
) -> list[PossibleDuplicate]:
    """One item per pair of members, strongest reason first, in this case's member order; the
    case itself never, closed and resettled cases like any other."""
    record = await load_record(db, actor, case_id)  # the scope decides: else 404
    policy.require(actor, Permission.find_duplicates)
    mine = [(member, Person.of(member)) for member in record.members]
    rows = await db.all(*candidates(db, actor, case_id, [person for _, person in mine]))
    found: list[tuple[int, int, PossibleDuplicate]] = []
    for position, (member, person) in enumerate(mine):
        for row in rows:
            why = reason(person, Person.of(row))
            if why is None:
                continue
            item = PossibleDuplicate(
                case_id=row["case_id"],
                reference=row["reference"],
                member_id=member["id"],
                other_member_id=row["id"],
                reason=why,
            )
            found.append((position, STRENGTH.index(why), item))
    items = [item for *_, item in sorted(found, key=lambda entry: entry[:2])]
    others = list(dict.fromkeys(item.case_id for item in items))
    filters = {"possible_duplicates_of": str(case_id)}
    await audit.log_access(db, actor, AccessAction.list, [case_id, *others], filters, now)
    return items
