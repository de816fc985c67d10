"""Seals (domain.md "Tamper-evident history and access log"): the access-log rows since the
previous seal and the latest hash of every case whose chain grew, sealed with a root that
chains to the previous seal's (app/chain.py). The service seals every ``PTA_SEAL_SECONDS``
(one sealer at a time across workers and replicas: an advisory lock on PostgreSQL, the one
writer on SQLite) and ``pta audit seal`` seals at once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Insert, bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.base import Executable

from app import chain
from app.db import Db, Row, SqlaDb
from app.metrics import REGISTRY
from app.models import AccessLogCase, AccessLogEntry, CaseEvent, Seal
from app.models.rows import SealRow
from app.schemas.audit import SealItem
from app.schemas.common import Page
from app.services import pagination, policy
from app.services.policy import Actor

log = logging.getLogger("pta.audit")

#: PostgreSQL advisory lock held while sealing, so replicas seal one at a time.
SEAL_LOCK = 0x7074_6173  # "ptas"
#: How long the sealer waits for the writers in flight to commit (PostgreSQL): they hold
#: back the rows with lower ids, and new writers queue behind the sealer meanwhile.
HORIZON_LOCK_TIMEOUT_MS = 1000
SEALS_MADE = Counter("pta_seals", "Seals written by this service.", registry=REGISTRY)


@dataclass(frozen=True)
class Horizon:
    """The highest access-log and event ids at one moment, with every row below them
    committed (or rolled back for good): nothing can later appear under them."""

    access_id: int
    event_id: int


async def _max_ids(conn: AsyncConnection) -> Horizon:
    access = await conn.scalar(select(func.coalesce(func.max(AccessLogEntry.id), 0)))
    events = await conn.scalar(select(func.coalesce(func.max(CaseEvent.id), 0)))
    return Horizon(int(access or 0), int(events or 0))


async def horizon(engine: AsyncEngine) -> Horizon:
    """On PostgreSQL ids come from sequences, so a row may commit after one with a higher
    id: a SHARE lock on both tables waits for the writers in flight (an INSERT takes its
    table lock before its id) and is released at once. On SQLite, whose write transactions
    run one at a time and number rows max + 1, taking the write lock is enough."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SET LOCAL lock_timeout = {HORIZON_LOCK_TIMEOUT_MS}"))
            await conn.execute(text("LOCK TABLE access_log, case_events IN SHARE MODE"))
        return await _max_ids(conn)


LAST_SEAL: Executable = select(Seal).order_by(Seal.id.desc()).limit(1)
INSERT_SEAL: Insert = insert(Seal).returning(*Seal.__table__.columns)


def access_entries(after: int, upto: int) -> Executable:
    """The access-log rows ``after`` < id ≤ ``upto`` with the cases each read, one result
    row per case (an entry without cases once), in id order."""
    entry = AccessLogEntry
    return (
        select(
            entry.id,
            entry.at,
            entry.user_id,
            entry.role,
            entry.country,
            entry.action,
            entry.filters,
            AccessLogCase.case_id,
        )
        .outerjoin(AccessLogCase, AccessLogCase.access_log_id == entry.id)
        .where(entry.id > after, entry.id <= upto)
        .order_by(entry.id, AccessLogCase.case_id)
    )


async def access_lines(db: SqlaDb, after: int, upto: int) -> AsyncIterator[tuple[int, str]]:
    """Each access-log row of the range as its sealed line (app/chain.py), with its id."""
    current: Row | None = None
    cases: list[Any] = []
    async for row in db.stream(access_entries(after, upto)):
        if current is not None and row["id"] != current["id"]:
            yield current["id"], _line(current, cases)
            cases = []
        current = row
        if row["case_id"] is not None:
            cases.append(row["case_id"])
    if current is not None:
        yield current["id"], _line(current, cases)


def _line(row: Row, cases: Sequence[Any]) -> str:
    return chain.access_line(
        entry_id=row["id"],
        at=row["at"],
        user_id=row["user_id"],
        role=row["role"],
        country=row["country"],
        action=row["action"],
        filters=row["filters"],
        case_ids=cases,
    )


def moved_heads(after: int, upto: int) -> Executable:
    """The latest event up to ``upto`` of every case with an event after ``after``."""
    latest = (
        select(func.max(CaseEvent.id))
        .where(CaseEvent.id > after, CaseEvent.id <= upto)
        .group_by(CaseEvent.case_id)
    )
    return (
        select(CaseEvent.case_id, CaseEvent.hash)
        .where(CaseEvent.id.in_(latest))
        .order_by(CaseEvent.case_id)
    )


async def _no_timeout(db: SqlaDb) -> None:
    """A job that reads a whole table is not a request: no statement timeout."""
    if db.dialect.is_postgresql:
        await db.conn.execute(text("SET LOCAL statement_timeout = 0"))


async def seal(engine: AsyncEngine, now: datetime, *, every: float = 0) -> SealRow | None:
    """Seal what is new since the last seal (nothing new: no seal). ``every``: the background
    sealer's period; a seal made less than half of it ago (by another worker) is enough."""
    mark = await horizon(engine)
    async with engine.begin() as conn:
        db = SqlaDb(conn)
        if db.dialect.is_postgresql:
            if not await db.scalar(select(func.pg_try_advisory_xact_lock(SEAL_LOCK))):
                return None  # another worker or replica is sealing
            await _no_timeout(db)
        last = cast(SealRow | None, await db.first(LAST_SEAL))
        if last is not None and every and (now - last["at"]).total_seconds() < every / 2:
            return None
        prev = last["root"] if last else chain.ZERO_HASH
        after_access = last["last_id"] if last else 0
        after_event = last["last_event_id"] if last else 0
        upto_access = max(mark.access_id, after_access)
        upto_event = max(mark.event_id, after_event)
        if (upto_access, upto_event) == (after_access, after_event):
            return None
        root, count, cases = hashlib.sha256(), 0, 0
        async for _entry_id, line in access_lines(db, after_access, upto_access):
            root.update(line.encode())
            count += 1
        async for row in db.stream(moved_heads(after_event, upto_event)):
            root.update(chain.head_line(row["case_id"], row["hash"]).encode())
            cases += 1
        first_id = after_access + 1
        root.update(chain.seal_line(prev, first_id, upto_access, count, upto_event).encode())
        sealed = await db.one(
            INSERT_SEAL,
            {
                "at": now,
                "first_id": first_id,
                "last_id": upto_access,
                "count": count,
                "last_event_id": upto_event,
                "root": root.hexdigest(),
                "prev": prev,
            },
        )
    SEALS_MADE.inc()
    log.info(
        "sealed",
        extra={"seal_id": sealed["id"], "access_log_rows": count, "cases": cases},
    )
    return cast(SealRow, sealed)


async def seal_forever(engine: AsyncEngine, every: float) -> None:
    """The background sealer each worker runs; the advisory lock and the last seal's age
    keep it to about one seal per period across workers and replicas."""
    while True:
        await asyncio.sleep(every)
        try:
            await seal(engine, datetime.now(UTC), every=every)
        except Exception as error:  # the database may be down: try again next time
            log.warning("sealing failed", extra={"error_type": type(error).__name__})


def _seals_query(before: bool) -> Executable:
    query = select(Seal).order_by(Seal.id.desc()).limit(bindparam("page_size"))
    return query.where(Seal.id < bindparam("before")) if before else query


SEALS_PAGE = {before: _seals_query(before) for before in (False, True)}


async def list_seals(db: Db, actor: Actor, *, limit: int, cursor: str | None) -> Page[SealItem]:
    """Newest first, for outside parties to keep copies (supervisors and admins)."""
    policy.require(actor, policy.Permission.read_access_log)
    before = pagination.decode_int(cursor)
    params: dict[str, Any] = {"page_size": limit + 1}
    if before is not None:
        params["before"] = before
    rows = await db.all(SEALS_PAGE[before is not None], params)
    page, more = rows[:limit], len(rows) > limit
    return Page(
        items=[SealItem.model_validate(dict(row)) for row in page],
        next_cursor=pagination.encode_int(page[-1]["id"]) if more else None,
    )
