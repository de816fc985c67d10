"""Creating, reading, listing and editing cases. Status changes live in lifecycle.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import Conflict
from app.models import Case, Member, ReferenceCounter
from app.models.base import uuid7
from app.models.lifecycle import INITIAL_STATUS, STAGE_STATUSES
from app.models.record import CaseRecord, Row
from app.schemas.cases import CaseCreate, CaseFilters, CaseUpdate, MemberIn
from app.services import audit, funnel_rollup, history, pagination, policy
from app.services.policy import Actor, Permission
from app.services.records import (
    CASE_COLUMNS,
    attach,
    check_if_match,
    load_record,
    write_case,
)
from app.services.sql import upsert
from app.vocabulary import AccessAction


async def next_reference(conn: AsyncConnection, origin: str, year: int) -> str:
    """``PTA-<origin>-<year>-<number>``: the counter row stays locked until commit, so
    concurrent creations get consecutive numbers and a rolled-back one gives its number back."""
    statement = upsert(conn, ReferenceCounter).values(
        origin_country=origin, year=year, last_number=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["origin_country", "year"],
        set_={"last_number": ReferenceCounter.last_number + 1},
    ).returning(ReferenceCounter.last_number)
    number = (await conn.execute(statement)).scalar_one()
    return f"PTA-{origin}-{year}-{number:06d}"


def _member_rows(case_id: uuid.UUID, members: Sequence[MemberIn]) -> list[Row]:
    return [
        {"case_id": case_id, "position": position, **member.model_dump()}
        for position, member in enumerate(members, start=1)
    ]


async def _insert_members(
    conn: AsyncConnection, case_id: uuid.UUID, members: Sequence[MemberIn]
) -> list[Row]:
    rows = _member_rows(case_id, members)
    await conn.execute(insert(Member), rows)
    return rows


async def create_case(
    conn: AsyncConnection, actor: Actor, data: CaseCreate, now: datetime
) -> CaseRecord:
    policy.require(actor, Permission.create_case)
    identified_at = data.identified_at or now.date()
    case_id = uuid7()
    values = {
        "id": case_id,
        "reference": await next_reference(conn, data.origin_country, identified_at.year),
        "origin_country": data.origin_country,
        "pathway": data.pathway,
        "status": INITIAL_STATUS,
        "processing_priority": data.processing_priority,
        "referral_source": data.referral_source,
        "protection_summary": data.protection_summary,
        "member_count": len(data.members),
        "identified_at": identified_at,
        "created_by": actor.id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    row = (
        (await conn.execute(insert(Case).values(values).returning(*CASE_COLUMNS))).mappings().one()
    )
    members = await _insert_members(conn, case_id, data.members)
    record = CaseRecord(case=row, members=members)
    await funnel_rollup.record_change(conn, None, record)
    await history.record_event(
        conn,
        case_id=case_id,
        actor=actor,
        action="create",
        from_status=None,
        to_status=INITIAL_STATUS,
        payload={
            "reference": row["reference"],
            "origin_country": data.origin_country,
            "pathway": data.pathway,
            "processing_priority": data.processing_priority,
            "identified_at": identified_at.isoformat(),
            "member_count": len(members),
        },
        now=now,
    )
    return record


async def read_case(
    conn: AsyncConnection, actor: Actor, case_id: uuid.UUID, now: datetime
) -> CaseRecord:
    record = await load_record(conn, actor, case_id)  # the scope decides: else 404
    await audit.log_access(conn, actor, AccessAction.view, [case_id], None, now)
    return record


def filter_clauses(actor: Actor, filters: CaseFilters) -> list[ColumnElement[bool]]:
    policy.check_filters(actor, filters.given())
    clauses: list[ColumnElement[bool]] = [policy.visible_cases(actor)]
    if filters.stage is not None:
        clauses.append(Case.status.in_(STAGE_STATUSES[filters.stage]))
    if filters.status is not None:
        clauses.append(Case.status == filters.status)
    if filters.origin_country is not None:
        clauses.append(Case.origin_country == filters.origin_country)
    if filters.processing_priority is not None:
        clauses.append(Case.processing_priority == filters.processing_priority)
    if filters.identified_from is not None:
        clauses.append(Case.identified_at >= filters.identified_from)
    if filters.identified_to is not None:
        clauses.append(Case.identified_at <= filters.identified_to)
    if filters.updated_since is not None:
        clauses.append(Case.updated_at >= filters.updated_since)
    if filters.resettlement_country is not None:
        clauses.append(policy.cases_submitted_to(actor, filters.resettlement_country))
    if filters.transit_country is not None:
        clauses.append(policy.cases_staying_in(actor, filters.transit_country))
    return clauses


async def list_cases(
    conn: AsyncConnection,
    actor: Actor,
    filters: CaseFilters,
    *,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> tuple[list[CaseRecord], str | None]:
    """One page in id order (ids are time-ordered): complete and duplicate-free while cases
    are added or changed."""
    policy.require(actor, Permission.read_cases)
    after = pagination.decode_id(cursor)
    query = select(*CASE_COLUMNS).where(*filter_clauses(actor, filters))
    if after is not None:
        query = query.where(Case.id > after)
    rows = (await conn.execute(query.order_by(Case.id).limit(limit + 1))).mappings().all()
    page = rows[:limit]
    records = await attach(conn, page)
    await audit.log_access(
        conn, actor, AccessAction.list, [row["id"] for row in page], filters.given(), now
    )
    next_cursor = pagination.encode_id(page[-1]["id"]) if len(rows) > limit else None
    return records, next_cursor


async def update_case(
    conn: AsyncConnection,
    actor: Actor,
    case_id: uuid.UUID,
    data: CaseUpdate,
    if_match: str | None,
    now: datetime,
) -> CaseRecord:
    record = await load_record(conn, actor, case_id, for_update=True)
    policy.require(actor, Permission.update_case)
    check_if_match(if_match, record.case["version"])
    given = data.model_fields_set
    if "pathway" in given and record.submissions:
        raise Conflict("The pathway can only change before the case is first submitted.")
    if "members" in given and record.case["departed_at"] is not None:
        raise Conflict("Members cannot change after the household has departed.")
    values = {name: getattr(data, name) for name in given if name != "members"}
    if data.members is not None:
        values["member_count"] = len(data.members)
    row = await write_case(conn, record.case, values, now)
    members = record.members
    if data.members is not None:
        await conn.execute(delete(Member).where(Member.case_id == case_id))
        members = await _insert_members(conn, case_id, data.members)
    payload: dict[str, Any] = {"changed": sorted(given)}
    payload.update(
        {name: values[name] for name in ("processing_priority", "pathway") if name in values}
    )
    await history.record_event(
        conn,
        case_id=case_id,
        actor=actor,
        action="update",
        from_status=row["status"],
        to_status=row["status"],
        payload=payload,
        now=now,
    )
    updated = CaseRecord(
        case=row, members=members, submissions=record.submissions, stays=record.stays
    )
    await funnel_rollup.record_change(conn, record, updated)
    return updated


async def log_export(
    conn: AsyncConnection, actor: Actor, filters: CaseFilters, now: datetime
) -> None:
    """One access-log row per export, with the filter used (the rows follow as a stream,
    so everything that can refuse the export is checked here, before the first byte)."""
    policy.require(actor, Permission.read_cases)
    policy.check_filters(actor, filters.given())
    await audit.log_access(conn, actor, AccessAction.export, [], filters.given(), now)
