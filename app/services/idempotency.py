"""Stored answers for ``Idempotency-Key`` retries, kept 24 hours in the database so every
worker and replica replays the same one."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import IdempotencyKey
from app.models.record import Row
from app.services.sql import upsert

KEEP_FOR = timedelta(hours=24)
COLUMNS = tuple(IdempotencyKey.__table__.columns)


def _key(user_id: uuid.UUID, method: str, path: str, key: str) -> Any:
    return (
        (IdempotencyKey.user_id == user_id)
        & (IdempotencyKey.method == method)
        & (IdempotencyKey.path == path)
        & (IdempotencyKey.key == key)
    )


async def find(
    conn: AsyncConnection, user_id: uuid.UUID, method: str, path: str, key: str, now: datetime
) -> Row | None:
    row = (
        (await conn.execute(select(*COLUMNS).where(_key(user_id, method, path, key))))
        .mappings()
        .first()
    )
    if row is not None and row["created_at"] <= now - KEEP_FOR:
        await conn.execute(delete(IdempotencyKey).where(_key(user_id, method, path, key)))
        return None
    return row


async def reserve(
    conn: AsyncConnection,
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
        await conn.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEEP_FOR)
        )
    statement = (
        upsert(conn, IdempotencyKey)
        .values(
            user_id=user_id,
            method=method,
            path=path,
            key=key,
            request_hash=request_hash,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    return (await conn.execute(statement)).first() is not None


async def complete(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    method: str,
    path: str,
    key: str,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    await conn.execute(
        update(IdempotencyKey)
        .where(_key(user_id, method, path, key))
        .values(status_code=status_code, response_headers=headers, response_body=body)
    )
