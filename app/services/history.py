"""Case events: every write to a case adds one, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any
from typing import cast as cast_type

from sqlalchemy import Insert, String, Table, bindparam, cast, func, insert, literal, select
from sqlalchemy.sql.base import Executable

from app import chain
from app.db import Db, Row, SqlDialect
from app.models import CaseEvent
from app.schemas.common import Page
from app.schemas.events import EventView, event_payload_for
from app.services import audit, outbox, pagination, policy
from app.services.policy import Actor
from app.services.records import find_visible
from app.vocabulary import AccessAction, Role

#: Events read per statement for a whole history.
HISTORY_PAGE = 1000


@cache
def _insert_event(dialect: SqlDialect) -> Insert:
    """One statement numbers the event, reads the case's latest hash and writes the event
    with its own (app/chain.py): the case row is locked by every writer, so its latest event
    cannot change meanwhile, and the chain costs no round trip of its own."""
    table = cast_type(Table, CaseEvent.__table__)
    numbered = select(dialect.next_id(table.c.id).label("id")).subquery("numbered")
    latest = (
        select(table.c.hash)
        .where(table.c.case_id == bindparam("case_id"))
        .order_by(table.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    hashed = (
        func.coalesce(latest, chain.ZERO_HASH)
        + literal("\n")
        + cast(numbered.c.id, String)
        + bindparam("content", type_=String)
    )
    given = (
        *("case_id", "at", "action", "from_status", "to_status", "user_id", "role"),
        *("resettlement_country", "transit_country", "payload"),
    )
    values = [bindparam(name, type_=table.c[name].type) for name in given]
    return (
        insert(table)
        .from_select(
            ["id", *given, "hash"],
            select(numbered.c.id, *values, dialect.sha256_hex(hashed)),
        )
        .returning(table.c.id)
    )


_LAST_REVIEW_REQUEST = (
    select(func.coalesce(func.max(CaseEvent.id), 0))
    .where(CaseEvent.case_id == bindparam("of_case"), CaseEvent.action == "request_review")
    .scalar_subquery()
)
#: Who changed the case (``update`` events: PATCH) since review was last requested.
CHANGED_SINCE_REVIEW: Executable = (
    select(CaseEvent.user_id)
    .where(
        CaseEvent.case_id == bindparam("of_case"),
        CaseEvent.action == "update",
        CaseEvent.id > _LAST_REVIEW_REQUEST,
    )
    .distinct()
)


async def changed_since_review(db: Db, case_id: uuid.UUID) -> set[uuid.UUID]:
    """For the four-eyes rule (``policy.check_four_eyes``): read from the case's history, the
    one record of who changed what, so no column has to be kept in step with it."""
    return {row[0] for row in await db.all(CHANGED_SINCE_REVIEW, {"of_case": case_id})}


@cache
def _events_query(role: Role) -> Executable:
    return (
        select(CaseEvent)
        .where(
            CaseEvent.case_id == bindparam("of_case"),
            CaseEvent.id > bindparam("after"),
            policy.visible_events(role),
        )
        .order_by(CaseEvent.id)
        .limit(bindparam("page_size"))
    )


async def record_event(
    db: Db,
    *,
    case_id: uuid.UUID,
    actor: Actor,
    action: str,
    from_status: str | None,
    to_status: str,
    payload: dict[str, Any],
    now: datetime,
    resettlement_country: str | None = None,
    transit_country: str | None = None,
) -> None:
    """The event, hash-chained to the case's previous one, and in the same transaction its
    webhook messages (the outbox)."""
    content = chain.event_content(
        case_id=case_id,
        at=now,
        action=action,
        from_status=from_status,
        to_status=to_status,
        user_id=actor.id,
        role=actor.role,
        digest=chain.payload_digest(payload),
    )
    event_id = await db.scalar(
        _insert_event(db.dialect),
        {
            "case_id": case_id,
            "at": now,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "user_id": actor.id,
            "role": actor.role,
            "payload": payload,
            "resettlement_country": resettlement_country,
            "transit_country": transit_country,
            "content": content,
        },
    )
    await outbox.write_outbox(db, event_id, action)


def event_views(actor: Actor, rows: Sequence[Row]) -> list[EventView]:
    return [
        EventView(
            id=row["id"],
            at=row["at"],
            action=row["action"],
            from_status=row["from_status"],
            to_status=row["to_status"],
            user_id=row["user_id"],
            role=row["role"],
            payload=event_payload_for(actor.role, row["role"], row["payload"]),
            hash=row["hash"],
        )
        for row in rows
    ]


async def whole_history(db: Db, actor: Actor, case_id: uuid.UUID) -> list[EventView]:
    """Every event of a case the caller can see, as it may see them, oldest first."""
    events: list[EventView] = []
    while True:
        params = {"of_case": case_id, "after": events[-1].id if events else 0}
        rows = await db.all(
            _events_query(actor.role),
            {**params, "page_size": HISTORY_PAGE, **policy.scope_params(actor)},
        )
        events += event_views(actor, rows)
        if len(rows) < HISTORY_PAGE:
            return events


async def list_events(
    db: Db,
    actor: Actor,
    case_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page[EventView]:
    """The case's history as the caller may see it, oldest first."""
    await find_visible(db, actor, case_id)  # the scope decides: else 404
    after = pagination.decode_int(cursor)
    rows = await db.all(
        _events_query(actor.role),
        {
            "of_case": case_id,
            "after": after or 0,
            "page_size": limit + 1,
            **policy.scope_params(actor),
        },
    )
    page, more = rows[:limit], len(rows) > limit
    items = event_views(actor, page)
    await audit.log_access(db, actor, AccessAction.events, [case_id], None, now)
    return Page(items=items, next_cursor=pagination.encode_int(page[-1]["id"]) if more else None)
