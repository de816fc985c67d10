"""Loading a case the caller can see, and writing it under optimistic concurrency."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import NotFound, PreconditionFailed, PreconditionRequired
from app.models import Case, Member, Submission, TransitStay
from app.models.record import CaseRecord, Row
from app.services import policy
from app.services.policy import Actor

CASE_COLUMNS = tuple(Case.__table__.columns)


def not_found() -> NotFound:
    # One message for "does not exist" and "outside your scope": the answer must not tell.
    return NotFound("No case with this id exists for you.")


async def find_visible(
    conn: AsyncConnection, actor: Actor, case_id: uuid.UUID, *, for_update: bool = False
) -> Row:
    query = select(*CASE_COLUMNS).where(Case.id == case_id, policy.visible_cases(actor))
    if for_update:
        query = query.with_for_update(of=Case)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise not_found()
    return row


async def load_record(
    conn: AsyncConnection, actor: Actor, case_id: uuid.UUID, *, for_update: bool = False
) -> CaseRecord:
    """A case the caller can see, with its members, submissions and stays; else 404.

    ``for_update`` locks the case row first (every writer does, so the rows read after it
    belong to that same version: a concurrent writer waits, then sees the new version and
    answers 412). SQLite needs no row lock: its write transactions already run one at a time.
    """
    case = await find_visible(conn, actor, case_id, for_update=for_update)
    (record,) = await attach(conn, [case])
    return record


async def attach(conn: AsyncConnection, rows: Sequence[Row]) -> list[CaseRecord]:
    """Load the members, submissions and stays of these cases (three queries in all)."""
    records = {row["id"]: CaseRecord(case=row) for row in rows}
    if not records:
        return []
    ids = list(records)
    members = await conn.execute(
        select(Member).where(Member.case_id.in_(ids)).order_by(Member.case_id, Member.position)
    )
    for member in members.mappings():
        records[member["case_id"]].members.append(member)
    submissions = await conn.execute(
        select(Submission)
        .where(Submission.case_id.in_(ids))
        .order_by(Submission.case_id, Submission.sequence)
    )
    for submission in submissions.mappings():
        records[submission["case_id"]].submissions.append(submission)
    stays = await conn.execute(
        select(TransitStay)
        .where(TransitStay.case_id.in_(ids))
        .order_by(TransitStay.case_id, TransitStay.requested_at, TransitStay.id)
    )
    for stay in stays.mappings():
        records[stay["case_id"]].stays.append(stay)
    return list(records.values())


def check_if_match(if_match: str | None, version: int) -> None:
    """Optimistic concurrency: the client must name the version it read."""
    if if_match is None or if_match.strip() in ("", "*"):
        raise PreconditionRequired(
            'Send If-Match with the case\'s current ETag (for example If-Match: "3").'
        )
    tags = {tag.strip().strip('"') for tag in if_match.split(",")}
    if str(version) not in tags:
        raise PreconditionFailed(
            f"The case has changed since you read it: it is now at version {version}. "
            "Read it again and retry."
        )


async def write_case(
    conn: AsyncConnection, case: Row, values: dict[str, Any], now: datetime
) -> Row:
    """Update a case only if nobody else has since its version was read: of two concurrent
    writers with one version, exactly one wins; the other gets 412 and changes nothing."""
    result = await conn.execute(
        update(Case)
        .where(Case.id == case["id"], Case.version == case["version"])
        .values(**values, version=Case.version + 1, updated_at=now)
        .returning(*CASE_COLUMNS)
    )
    row = result.mappings().first()
    if row is None:
        raise PreconditionFailed("The case was changed by someone else just now: read it again.")
    return row
