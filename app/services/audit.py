"""The access log: every read of case data leaves a row in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Insert, Uuid, bindparam, func, insert, select
from sqlalchemy.sql.base import Executable

from app.db import Db, SqlDialect
from app.models import AccessLogCase, AccessLogEntry, User
from app.schemas.audit import AccessLogItem, AccessLogQuery
from app.schemas.common import Page
from app.services import pagination, policy
from app.services.policy import Actor
from app.vocabulary import AccessAction

_ENTRY = {
    "at": bindparam("log_at"),
    "user_id": bindparam("log_user"),
    "role": bindparam("log_role"),
    "country": bindparam("log_country"),
    "action": bindparam("log_action"),
    "filters": bindparam("log_filters", type_=AccessLogEntry.__table__.c.filters.type),
}
INSERT_ENTRY: Insert = insert(AccessLogEntry).values(_ENTRY).returning(AccessLogEntry.id)
INSERT_LINKS: Insert = insert(AccessLogCase)


@cache
def _entry_with_cases() -> Insert:
    """PostgreSQL: the entry and its case links in one statement (one round trip)."""
    entry = insert(AccessLogEntry).values(_ENTRY).returning(AccessLogEntry.id).cte("entry")
    case_ids = func.unnest(bindparam("log_cases", type_=ARRAY(Uuid())))
    return insert(AccessLogCase).from_select(
        ["access_log_id", "case_id"], select(entry.c.id, case_ids)
    )


async def log_access(
    db: Db,
    actor: Actor,
    action: AccessAction,
    case_ids: Sequence[uuid.UUID],
    filters: dict[str, Any] | None,
    now: datetime,
) -> None:
    entry = {
        "log_at": now,
        "log_user": actor.id,
        "log_role": actor.role,
        "log_country": actor.country,
        "log_action": action,
        "log_filters": filters,
    }
    if db.dialect.is_postgresql:
        await db.run(_entry_with_cases(), {**entry, "log_cases": list(case_ids)})
        return
    entry_id = await db.scalar(INSERT_ENTRY, entry)
    await db.run_many(
        INSERT_LINKS, [{"access_log_id": entry_id, "case_id": case_id} for case_id in case_ids]
    )


FILTERS = ("user_id", "case_id", "action", "from_", "to")


@cache
def _log_query(names: tuple[str, ...], before: bool) -> Executable:
    statement = (
        select(AccessLogEntry, User.username)
        .join(User, User.id == AccessLogEntry.user_id)
        .order_by(AccessLogEntry.id.desc())
        .limit(bindparam("page_size"))
    )
    conditions = {
        "user_id": AccessLogEntry.user_id == bindparam("q_user_id"),
        "action": AccessLogEntry.action == bindparam("q_action"),
        "from_": AccessLogEntry.at >= bindparam("q_from_"),
        "to": AccessLogEntry.at <= bindparam("q_to"),
        "case_id": AccessLogEntry.id.in_(
            select(AccessLogCase.access_log_id).where(
                AccessLogCase.case_id == bindparam("q_case_id")
            )
        ),
    }
    if before:
        statement = statement.where(AccessLogEntry.id < bindparam("before"))
    return statement.where(*(conditions[name] for name in names))


@cache
def _links_query(dialect: SqlDialect) -> Executable:
    return (
        select(AccessLogCase.access_log_id, AccessLogCase.case_id)
        .where(dialect.in_list(AccessLogCase.access_log_id, "entry_ids"))
        .order_by(AccessLogCase.access_log_id, AccessLogCase.case_id)
    )


async def read_access_log(
    db: Db, actor: Actor, query: AccessLogQuery, *, limit: int, cursor: str | None
) -> Page[AccessLogItem]:
    """Newest first. Reading the log is itself not logged: it holds no case content."""
    policy.require(actor, policy.Permission.read_access_log)
    before = pagination.decode_int(cursor)
    names = tuple(name for name in FILTERS if getattr(query, name) is not None)
    params = {f"q_{name}": getattr(query, name) for name in names}
    rows = await db.all(
        _log_query(names, before is not None),
        {**params, **({"before": before} if before is not None else {}), "page_size": limit + 1},
    )
    page, more = rows[:limit], len(rows) > limit
    ids = [row["id"] for row in page]
    cases: dict[int, list[uuid.UUID]] = {entry_id: [] for entry_id in ids}
    if ids:
        for entry_id, case_id in await db.all(_links_query(db.dialect), {"entry_ids": ids}):
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
