"""The access log: every read of case data leaves a row in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import AccessLogCase, AccessLogEntry, User
from app.schemas.audit import AccessLogItem, AccessLogQuery
from app.schemas.common import Page
from app.services import pagination, policy
from app.services.policy import Actor
from app.vocabulary import AccessAction


async def log_access(
    conn: AsyncConnection,
    actor: Actor,
    action: AccessAction,
    case_ids: Sequence[uuid.UUID],
    filters: dict[str, Any] | None,
    now: datetime,
) -> None:
    result = await conn.execute(
        insert(AccessLogEntry)
        .values(at=now, user_id=actor.id, role=actor.role, action=action, filters=filters)
        .returning(AccessLogEntry.id)
    )
    entry_id = result.scalar_one()
    if case_ids:
        await conn.execute(
            insert(AccessLogCase),
            [{"access_log_id": entry_id, "case_id": case_id} for case_id in case_ids],
        )


async def read_access_log(
    conn: AsyncConnection, actor: Actor, query: AccessLogQuery, *, limit: int, cursor: str | None
) -> Page[AccessLogItem]:
    """Newest first. Reading the log is itself not logged: it holds no case content."""
    policy.require(actor, policy.Permission.read_access_log)
    before = pagination.decode_int(cursor)
    statement = (
        select(AccessLogEntry, User.username)
        .join(User, User.id == AccessLogEntry.user_id)
        .order_by(AccessLogEntry.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        statement = statement.where(AccessLogEntry.id < before)
    if query.user_id is not None:
        statement = statement.where(AccessLogEntry.user_id == query.user_id)
    if query.action is not None:
        statement = statement.where(AccessLogEntry.action == query.action)
    if query.from_ is not None:
        statement = statement.where(AccessLogEntry.at >= query.from_)
    if query.to is not None:
        statement = statement.where(AccessLogEntry.at <= query.to)
    if query.case_id is not None:
        statement = statement.where(
            AccessLogEntry.id.in_(
                select(AccessLogCase.access_log_id).where(AccessLogCase.case_id == query.case_id)
            )
        )
    rows = (await conn.execute(statement)).mappings().all()
    page, more = rows[:limit], len(rows) > limit
    ids = [row["id"] for row in page]
    cases: dict[int, list[uuid.UUID]] = {entry_id: [] for entry_id in ids}
    if ids:
        links = await conn.execute(
            select(AccessLogCase.access_log_id, AccessLogCase.case_id)
            .where(AccessLogCase.access_log_id.in_(ids))
            .order_by(AccessLogCase.access_log_id, AccessLogCase.case_id)
        )
        for entry_id, case_id in links:
            cases[entry_id].append(case_id)
    items = [
        AccessLogItem(
            id=row["id"],
            at=row["at"],
            user_id=row["user_id"],
            username=row["username"],
            role=row["role"],
            action=row["action"],
            case_ids=cases[row["id"]],
            filters=row["filters"] or {},
        )
        for row in page
    ]
    return Page(items=items, next_cursor=pagination.encode_int(page[-1]["id"]) if more else None)
