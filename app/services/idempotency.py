"""Stored answers for ``Idempotency-Key`` retries, kept 24 hours in the database so every
worker and replica replays the same one."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Delete, Update, bindparam, delete, select, update
from sqlalchemy.sql.base import Executable

from app.db import Db, Row, SqlDialect
from app.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)
COLUMNS = tuple(IdempotencyKey.__table__.columns)

_THE_KEY = (
    (IdempotencyKey.user_id == bindparam("k_user"))
    & (IdempotencyKey.method == bindparam("k_method"))
    & (IdempotencyKey.path == bindparam("k_path"))
    & (IdempotencyKey.key == bindparam("k_key"))
)
FIND: Executable = select(*COLUMNS).where(_THE_KEY)
FORGET: Delete = delete(IdempotencyKey).where(_THE_KEY)
FORGET_OLD: Delete = delete(IdempotencyKey).where(IdempotencyKey.created_at <= bindparam("before"))
COMPLETE: Update = update(IdempotencyKey).where(_THE_KEY)


@cache
def _reserve(dialect: SqlDialect) -> Executable:
    return dialect.upsert(IdempotencyKey).on_conflict_do_nothing().returning(IdempotencyKey.key)


def _params(user_id: uuid.UUID, method: str, path: str, key: str) -> dict[str, Any]:
    return {"k_user": user_id, "k_method": method, "k_path": path, "k_key": key}


async def find(
    db: Db, user_id: uuid.UUID, method: str, path: str, key: str, now: datetime
) -> Row | None:
    params = _params(user_id, method, path, key)
    row = await db.first(FIND, params)
    if row is not None and row["created_at"] <= now - KEEP_FOR:
        await db.run(FORGET, params)
        return None
    return row


async def reserve(
    db: Db,
    user_id: uuid.UUID,
    method: str,
    path: str,
    key: str,
    request_hash: str,
    now: datetime,
) -> bool:
    """Claim the key for this transaction. False when a concurrent request with the same key
    committed first (on PostgreSQL this waits for it to finish)."""
    if secrets.randbelow(100) == 0:  # now and then, forget what is past keeping
        await db.run(FORGET_OLD, {"before": now - KEEP_FOR})
    row = await db.first(
        _reserve(db.dialect),
        {
            "user_id": user_id,
            "method": method,
            "path": path,
            "key": key,
            "request_hash": request_hash,
            "created_at": now,
        },
    )
    return row is not None


async def complete(
    db: Db,
    user_id: uuid.UUID,
    method: str,
    path: str,
    key: str,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    await db.run(
        COMPLETE,
        {
            **_params(user_id, method, path, key),
            "status_code": status_code,
            "response_headers": headers,
            "response_body": body,
        },
    )
