"""Creating, reading, listing and editing cases. Status changes live in lifecycle.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    Insert,
    bindparam,
    delete,
    false,
    insert,
    select,
)
from sqlalchemy.sql.base import Executable

from app.db import Db, Row, SqlDialect
from app.errors import Conflict
from app.models import Case, Member, ReferenceCounter
from app.models.base import uuid7
from app.models.lifecycle import INITIAL_STATUS, STAGE_STATUSES
from app.models.record import CaseRecord
from app.models.rows import CaseRow, MemberRow
from app.schemas.cases import CaseCreate, CaseFilters, CaseUpdate
from app.schemas.common import today
from app.services import (
    audit,
    funnel_rollup,
    history,
    member_keys,
    members,
    pagination,
    policy,
    search,
)
from app.services.policy import Actor, Permission
from app.services.records import (
    CASE_COLUMNS,
    attach,
    case_columns,
    check_if_match,
    load_record,
    write_case,
)
from app.vocabulary import AccessAction, Role

INSERT_CASE: Insert = insert(Case).returning(*CASE_COLUMNS)
INSERT_MEMBERS: Insert = insert(Member)
DELETE_MEMBERS: Delete = delete(Member).where(Member.case_id == bindparam("of_case"))


@cache
def _next_number(dialect: SqlDialect) -> Executable:
    statement = dialect.upsert(ReferenceCounter).values(
        origin_country=bindparam("origin"), year=bindparam("year"), last_number=1
    )
    return statement.on_conflict_do_update(
        index_elements=["origin_country", "year"],
        set_={"last_number": ReferenceCounter.last_number + 1},
    ).returning(ReferenceCounter.last_number)


async def next_reference(db: Db, origin: str, year: int) -> str:
    """``PTA-<origin>-<year>-<number>``: the counter row stays locked until commit, so
    concurrent creations get consecutive numbers and a rolled-back one gives its number back."""
    number = await db.scalar(_next_number(db.dialect), {"origin": origin, "year": year})
    return f"PTA-{origin}-{year}-{number:06d}"


async def insert_case(db: Db, actor: Actor, values: dict[str, Any], now: datetime) -> CaseRow:
    """Write a new case row (``values`` without reference or bookkeeping columns)."""
    reference = await next_reference(db, values["origin_country"], values["identified_at"].year)
    row = await db.one(
        INSERT_CASE,
        {
            "split_from": None,
            "split_into": None,
            "legal_hold": False,
            "erased_at": None,
            **values,
            "reference": reference,
            "created_by": actor.id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
    )
    return cast(CaseRow, row)


async def record_creation(
    db: Db, actor: Actor, row: CaseRow, member_rows: Sequence[MemberRow], now: datetime
) -> CaseRecord:
    """A new case's funnel contribution and its ``create`` event, once its members are in."""
    record = CaseRecord(case=row, members=list(member_rows))
    await funnel_rollup.record_change(db, None, record)
    payload: dict[str, Any] = {
        "reference": row["reference"],
        "origin_country": row["origin_country"],
        "pathway": row["pathway"],
        "processing_priority": row["processing_priority"],
        "identified_at": row["identified_at"].isoformat(),
        "member_count": len(member_rows),
    }
    if row["split_from"] is not None:
        payload["split_from"] = str(row["split_from"])
    await history.record_event(
        db,
        case_id=row["id"],
        actor=actor,
        action="create",
        from_status=None,
        to_status=row["status"],
        payload=payload,
        now=now,
    )
    return record


async def create_case(db: Db, actor: Actor, data: CaseCreate, now: datetime) -> CaseRecord:
    policy.require(actor, Permission.create_case)
    identified_at = data.identified_at or now.date()
    values = {
        "id": uuid7(),
        "origin_country": data.origin_country,
        "pathway": data.pathway,
        "status": INITIAL_STATUS,
        "processing_priority": data.processing_priority,
        "referral_source": data.referral_source,
        "protection_summary": data.protection_summary,
        "member_count": len(data.members),
        "identified_at": identified_at,
    }
    row = await insert_case(db, actor, values, now)
    rows = members.first_members(row["id"], data.members, identified_at)
    await db.run_many(INSERT_MEMBERS, rows)
    await member_keys.add(db, rows)
    return await record_creation(db, actor, row, rows, now)


async def read_case(db: Db, actor: Actor, case_id: uuid.UUID, now: datetime) -> CaseRecord:
    record = await load_record(db, actor, case_id)  # the scope decides: else 404
    await audit.log_access(db, actor, AccessAction.view, [case_id], None, now)
    return record


def _condition(dialect: SqlDialect, role: Role, name: str) -> ColumnElement[bool]:
    """What one list filter adds; its value comes as the parameter ``f_<name>``."""
    value: BindParameter[Any] = bindparam(f"f_{name}")
    if name == "stage":
        return dialect.in_list(Case.status, "f_stage")
    if name == "identified_from":
        return Case.identified_at >= value
    if name == "identified_to":
        return Case.identified_at <= value
    if name == "updated_since":
        return Case.updated_at >= value
    if name == "resettlement_country":
        return policy.cases_submitted_to(role, value)
    if name == "transit_country":
        return policy.cases_staying_in(value)
    if name == "requirements_overdue":  # its value: today's date
        return policy.cases_overdue(role, value)
    column: Any = getattr(Case, name)  # status, origin_country, processing_priority
    return cast(ColumnElement[bool], column == value)


@cache
def _list_query(
    dialect: SqlDialect,
    role: Role,
    names: tuple[str, ...],
    after: bool,
    probe: bool,
    search_words: int | None,
    shape: search.Shape,
) -> Executable:
    """The page query for one combination of filters (built once, then reused); with ``q``,
    ``search_words`` is the number of its name words and ``shape`` how it is looked up."""
    cursor: BindParameter[Any] | None = bindparam("after") if after else None
    clauses = [
        policy.visible_cases(role, after=cursor),
        *(_condition(dialect, role, n) for n in names if n != "q"),
    ]
    if search_words is not None:
        clauses.append(search.matching(dialect, shape, search_words, after))
    if cursor is not None:
        clauses.append(Case.id > cursor)
    if probe:
        clauses.append(false())
    query = select(*case_columns(dialect)).where(*clauses).order_by(Case.id)
    return query.limit(bindparam("page_size"))


def _search(filters: CaseFilters) -> search.Search | None:
    return search.Search.of(filters.q) if filters.q is not None else None


def _filter_params(filters: CaseFilters) -> dict[str, Any]:
    params = {f"f_{name}": getattr(filters, name) for name in filters.given() if name != "q"}
    if filters.stage is not None:
        params["f_stage"] = sorted(STAGE_STATUSES[filters.stage])
    if filters.requirements_overdue:
        params["f_requirements_overdue"] = today()  # overdue: due before today (UTC)
    return params


def page_query(
    db: Db,
    actor: Actor,
    filters: CaseFilters,
    after: uuid.UUID | None,
    shape: search.Shape = search.Shape.indexed,
) -> Executable:
    """The query behind a list page and the export: the caller's scope and its filters."""
    policy.check_filters(actor, filters.given())
    terms = _search(filters)
    return _list_query(
        db.dialect,
        actor.role,
        tuple(sorted(filters.given())),
        after is not None,
        policy.probes_elsewhere(actor, filters.given()),
        len(terms.words) if terms is not None else None,
        shape,
    )


def page_params(
    db: Db,
    actor: Actor,
    filters: CaseFilters,
    after: uuid.UUID | None,
    size: int,
    shape: search.Shape = search.Shape.indexed,
    window_end: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The values of ``page_query``'s statement; ``window_end`` (search.window_end) for a
    search's window and what lies beyond it."""
    terms = _search(filters)
    return {
        **_filter_params(filters),
        **(terms.params(db.dialect, shape) if terms is not None else {}),
        **policy.scope_params(actor),
        **({"after": after} if after is not None else {}),  # the first page has no cursor
        **({"window_end": window_end} if shape is not search.Shape.indexed else {}),
        "page_size": size,
    }


def page_shapes(filters: CaseFilters) -> tuple[search.Shape, ...]:
    """The statements a page takes in turn (the next only while the page is not full)."""
    terms = _search(filters)
    return terms.shapes if terms is not None else (search.Shape.indexed,)


async def fetch_page(
    db: Db, actor: Actor, filters: CaseFilters, after: uuid.UUID | None, size: int
) -> list[Row]:
    """Up to ``size`` cases after the cursor, in id order: one statement, but for a search by
    names (search.py) a walk of the next cases first, then the indexes past them."""
    shapes = page_shapes(filters)
    indexed = shapes == (search.Shape.indexed,)
    end = None if indexed else await search.window_end(db, after, shapes)
    rows: list[Row] = []
    for shape in shapes:
        query = page_query(db, actor, filters, after, shape)
        params = page_params(db, actor, filters, after, size - len(rows), shape, end)
        rows += await db.all(query, params)
        if len(rows) >= size or end == search.LAST:
            break
    return rows


async def list_cases(
    db: Db,
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
    rows = await fetch_page(db, actor, filters, after, limit + 1)
    page = rows[:limit]
    records = await attach(db, page)
    await audit.log_access(
        db, actor, AccessAction.list, [row["id"] for row in page], filters.given(), now
    )
    next_cursor = pagination.encode_id(page[-1]["id"]) if len(rows) > limit else None
    return records, next_cursor


async def update_case(
    db: Db,
    actor: Actor,
    case_id: uuid.UUID,
    data: CaseUpdate,
    if_match: str | None,
    now: datetime,
) -> CaseRecord:
    record = await load_record(db, actor, case_id, for_update=True)
    policy.require(actor, Permission.update_case)
    check_if_match(if_match, record.case["version"])
    given = data.model_fields_set
    new_members = None
    if data.members is not None:
        members.check_current(record, (m.id for m in data.members), "members")
        new_members, changed = members.replace(record, data.members, now.date())
        members.check_set_change(record, changed)
    if "pathway" in given and record.submissions:
        raise Conflict("The pathway can only change before the case is first submitted.")
    values = {name: getattr(data, name) for name in given if name != "members"}
    if new_members is not None:
        values["member_count"] = len(new_members)
    row = await write_case(db, record.case, values, now)
    member_rows = record.members
    if new_members is not None:
        await db.run(DELETE_MEMBERS, {"of_case": case_id})
        await db.run_many(INSERT_MEMBERS, new_members)
        await member_keys.replace(db, case_id, new_members)
        member_rows = new_members
    payload: dict[str, Any] = {"changed": sorted(given)}
    payload.update(
        {name: values[name] for name in ("processing_priority", "pathway") if name in values}
    )
    await history.record_event(
        db,
        case_id=case_id,
        actor=actor,
        action="update",
        from_status=row["status"],
        to_status=row["status"],
        payload=payload,
        now=now,
    )
    updated = replace(record, case=row, members=member_rows)
    await funnel_rollup.record_change(db, record, updated)
    return updated


async def log_export(db: Db, actor: Actor, filters: CaseFilters, now: datetime) -> None:
    """One access-log row per export, with the filter used (the rows follow as a stream,
    so everything that can refuse the export is checked here, before the first byte)."""
    policy.require(actor, Permission.read_cases)
    policy.check_filters(actor, filters.given())
    await audit.log_access(db, actor, AccessAction.export, [], filters.given(), now)
