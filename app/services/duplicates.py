"""Possible duplicates of a case (domain.md "Search and possible duplicates"): members of other
cases who may be the same person as one of its members. Candidates come from ``member_keys``
(document numbers and name blocks, by index); each pair is then judged here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.sql.base import Executable

from app.db import Db, SqlDialect
from app.models import Case, Member, MemberKey
from app.schemas.duplicates import PossibleDuplicate
from app.services import audit, names, policy
from app.services.policy import Actor, Permission
from app.services.records import load_record
from app.vocabulary import AccessAction, DuplicateReason, MemberKeyKind, Role

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
    """Members of other cases sharing a document key or a name block with the ones given."""

    def having(kind: MemberKeyKind, values: str) -> Any:
        return select(MemberKey.member_id).where(
            MemberKey.kind == kind, dialect.in_list(MemberKey.key, values)
        )

    wanted = union_all(
        having(MemberKeyKind.document, "documents"),
        having(MemberKeyKind.name_start, "starts"),
        having(MemberKeyKind.name_end, "ends"),
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
        .where(
            Member.id.in_(wanted),
            Member.case_id != bindparam("case_id"),
            policy.visible_cases(role),
        )
        .order_by(Member.case_id, Member.position)
    )


def _lookups(people: list[Person]) -> dict[str, list[str]]:
    documents, starts, ends = set(), set(), set()
    for person in people:
        if person.document is not None:
            documents.add(person.document)
        if person.key:
            near_starts, near_ends = names.blocks_within_one_slip(person.key, person.born)
            starts |= near_starts
            ends |= near_ends
    return {"documents": sorted(documents), "starts": sorted(starts), "ends": sorted(ends)}


async def possible_duplicates(
    db: Db, actor: Actor, case_id: uuid.UUID, now: datetime
) -> list[PossibleDuplicate]:
    """One item per pair of members, strongest reason first, in this case's member order; the
    case itself never, closed and resettled cases like any other."""
    record = await load_record(db, actor, case_id)  # the scope decides: else 404
    policy.require(actor, Permission.find_duplicates)
    mine = [(member, Person.of(member)) for member in record.members]
    lookups = _lookups([person for _, person in mine])
    rows = await db.all(
        _candidates(db.dialect, actor.role),
        {**lookups, "case_id": case_id, **policy.scope_params(actor)},
    )
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
    await audit.log_access(
        db,
        actor,
        AccessAction.list,
        [case_id, *others],
        {"possible_duplicates_of": str(case_id)},
        now,
    )
    return items
