"""Opaque keyset cursors. A cursor that was not made here is a 422, never an empty page."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.sql.base import Executable

from app.db import Db, Row
from app.errors import ValidationFailed
from app.schemas.common import Page


def _bad() -> ValidationFailed:
    return ValidationFailed(
        "The cursor is not valid: pass the next_cursor of the previous page unchanged.",
        [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )


def _encode(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _decode(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad() from None
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise _bad()
    return value


def encode_id(value: uuid.UUID) -> str:
    return _encode("id", value.hex)


def decode_id(cursor: str | None) -> uuid.UUID | None:
    value = _decode("id", cursor)
    if value is None:
        return None
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        raise _bad() from None


def encode_int(value: int) -> str:
    return _encode("n", str(value))


def decode_int(cursor: str | None) -> int | None:
    value = _decode("n", cursor)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise _bad()
    return int(value)


async def page_by_id(
    db: Db,
    statement: Executable,
    *,
    limit: int,
    cursor: str | None,
    view: Callable[[Row], dict[str, Any]] = dict,
) -> Page[dict[str, Any]]:
    """One keyset page of a statement ordered by ``id`` that takes ``after`` (the last id of
    the previous page) and ``page_size`` (one more than the page, to know whether another
    follows)."""
    after = decode_id(cursor)
    rows = await db.all(statement, {"after": after or uuid.UUID(int=0), "page_size": limit + 1})
    page = [view(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items=page, next_cursor=encode_id(page[-1]["id"]) if more else None)
