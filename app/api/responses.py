"""JSON answers: orjson with timestamps in UTC ``Z`` form, as the contract writes them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi.responses import Response

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg's UUID subclass
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_bytes(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=OPTIONS)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json_bytes(data), status_code=status, media_type="application/json", headers=headers
    )
