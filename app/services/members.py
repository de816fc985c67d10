"""Members keep their identity (domain.md): ids that never change, a PATCH that updates,
adds and removes by id, and the days each member reached each funnel stage."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, cast

from sqlalchemy import Update, bindparam, update

from app.db import Db
from app.errors import Conflict, ValidationFailed
from app.models import Member
from app.models.base import uuid7
from app.models.funnel import MILESTONES
from app.models.record import CaseRecord
from app.models.rows import CaseRow, MemberRow
from app.schemas.cases import MemberIn, MemberUpdate
from app.vocabulary import LIVE_SUBMISSION

#: The member columns holding the day it reached each funnel stage (named as the case's).
MILESTONE_COLUMNS = tuple(MILESTONES.values())


def check_current(record: CaseRecord, ids: Iterable[uuid.UUID | None], field: str) -> None:
    """Every id the request names is a current member of this case, else 422."""
    current = {member["id"] for member in record.members}
    errors = [
        {
            "loc": ["body", field, index],
            "msg": f"{member_id} is not a current member of this case",
            "type": "not_a_current_member",
        }
        for index, member_id in enumerate(ids)
        if member_id is not None and member_id not in current
    ]
    if errors:
        raise ValidationFailed(
            f"{field} names {len(errors)} id(s) that are not current members of this case.",
            errors,
        )


def set_is_fixed(record: CaseRecord) -> str | None:
    """Why members cannot be added or removed now (None when they can)."""
    submission = record.latest_submission
    if submission is not None and submission["status"] in LIVE_SUBMISSION:
        return "the case has a live submission (withdraw the submission first)"
    if record.case["departed_at"] is not None:
        return "the household has departed"
    return None


def _new_member(case_id: uuid.UUID, position: int, data: MemberIn, day: date) -> MemberRow:
    """A member joining a case counts as identified on the day it joins."""
    fields = data.model_dump(exclude={"id"})
    row = {
        "case_id": case_id,
        "position": position,
        **fields,
        "id": uuid7(),
        "identified_at": day,
        **{column: None for column in MILESTONE_COLUMNS[1:]},
    }
    return cast(MemberRow, row)


def first_members(case_id: uuid.UUID, members: Sequence[MemberIn], day: date) -> list[MemberRow]:
    """The members a case is created with: identified with the case."""
    return [_new_member(case_id, n, member, day) for n, member in enumerate(members, start=1)]


def replace(
    record: CaseRecord, incoming: Sequence[MemberUpdate], today: date
) -> tuple[list[MemberRow], bool]:
    """The member rows after a PATCH of the list, and whether the set of members changed
    (someone added or removed). A kept member keeps its id and milestone dates."""
    case_id = record.case["id"]
    current = {member["id"]: member for member in record.members}
    rows: list[MemberRow] = []
    for position, member in enumerate(incoming, start=1):
        old = current.get(member.id) if member.id is not None else None
        if old is None:
            rows.append(_new_member(case_id, position, member, today))
            continue
        kept_row = {
            **{column: cast(Mapping[str, Any], old)[column] for column in MILESTONE_COLUMNS},
            "case_id": case_id,
            "position": position,
            **member.model_dump(exclude={"id"}),
            "id": old["id"],
        }
        rows.append(cast(MemberRow, kept_row))
    kept = {row["id"] for row in rows}
    changed = kept != set(current)
    return rows, changed


def check_set_change(record: CaseRecord, changed: bool) -> None:
    reason = set_is_fixed(record) if changed else None
    if reason is not None:
        raise Conflict(f"Members cannot be added or removed now: {reason}.")


@cache
def _stamp(column: str) -> Update:
    milestone = getattr(Member, column)
    return (
        update(Member)
        .where(Member.case_id == bindparam("of_case"), milestone.is_(None))
        .values({column: bindparam("day")})
    )


async def reach_milestones(
    db: Db, before: CaseRow, after: CaseRow, members: list[MemberRow]
) -> list[MemberRow]:
    """A case reaching a stage brings its current members there on the same day (those who
    have not reached it already, in this case or before a split)."""
    old, new = cast(Mapping[str, Any], before), cast(Mapping[str, Any], after)
    reached = [
        column for column in MILESTONE_COLUMNS if old[column] is None and new[column] is not None
    ]
    if not reached:
        return members
    for column in reached:
        await db.run(_stamp(column), {"of_case": after["id"], "day": new[column]})
    stamped: list[MemberRow] = []
    for member in members:
        reached_now = {c: new[c] for c in reached if cast(Mapping[str, Any], member)[c] is None}
        stamped.append(cast(MemberRow, {**member, **reached_now}))
    return stamped
