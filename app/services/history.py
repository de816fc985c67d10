"""Case events: every write to a case adds one, in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import CaseEvent
from app.schemas.common import Page
from app.schemas.events import EventView, event_payload_for
from app.services import audit, pagination, policy
from app.services.policy import Actor
from app.services.records import find_visible
from app.vocabulary import AccessAction


async def record_event(
    conn: AsyncConnection,
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
    await conn.execute(
        insert(CaseEvent).values(
            case_id=case_id,
            at=now,
            action=action,
            from_status=from_status,
            to_status=to_status,
            user_id=actor.id,
            role=actor.role,
            payload=payload,
            resettlement_country=resettlement_country,
            transit_country=transit_country,
        )
    )


async def list_events(
    conn: AsyncConnection,
    actor: Actor,
    case_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page[EventView]:
    """The case's history as the caller may see it, oldest first."""
    await find_visible(conn, actor, case_id)  # the scope decides: else 404
    after = pagination.decode_int(cursor)
    query = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, policy.visible_events(actor))
        .order_by(CaseEvent.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(CaseEvent.id > after)
    rows = (await conn.execute(query)).mappings().all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        EventView(
            id=row["id"],
            at=row["at"],
            action=row["action"],
            from_status=row["from_status"],
            to_status=row["to_status"],
            user_id=row["user_id"],
            role=row["role"],
            payload=event_payload_for(actor.role, row["role"], row["payload"]),
        )
        for row in page
    ]
    await audit.log_access(conn, actor, AccessAction.events, [case_id], None, now)
    return Page(items=items, next_cursor=pagination.encode_int(page[-1]["id"]) if more else None)
