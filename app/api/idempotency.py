"""``Idempotency-Key`` on POST /cases and transitions: a retry with the same key and body
gets the first 2xx answer again; the same key with another body is a 422."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response

from app.api.deps import Ctx
from app.db import Db, Row
from app.errors import IdempotencyKeyReused, ValidationFailed
from app.services import idempotency
from app.services.policy import Actor

REPLAYED_HEADERS = ("etag", "location", "content-type")


class Replay(Exception):
    def __init__(self, row: Row) -> None:
        super().__init__("replay")
        self.row = row


def _fingerprint(body: bytes) -> str:
    """Same JSON, same fingerprint (key order and spacing do not matter)."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


class IdempotentRequest:
    def __init__(self, db: Db, actor: Actor, method: str, path: str, key: str | None) -> None:
        self.db, self.actor, self.method, self.path, self.key = db, actor, method, path, key

    async def store(self, response: Response) -> Response:
        """Keep a 2xx answer for retries (in the request's own transaction)."""
        if self.key is not None and 200 <= response.status_code < 300:
            headers = {
                name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS
            }
            await idempotency.complete(
                self.db,
                self.actor.id,
                self.method,
                self.path,
                self.key,
                status_code=response.status_code,
                headers=headers,
                body=bytes(response.body),
            )
        return response


async def idempotent_request(
    request: Request,
    ctx: Ctx,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry safely: the same key and body within 24 h replays the first answer.",
            max_length=255,
        ),
    ] = None,
) -> IdempotentRequest:
    method, path = request.method, request.scope["path"]
    db, actor, now = ctx.db, ctx.actor, ctx.now
    if key is not None:
        if not key.strip() or not key.isprintable():
            raise ValidationFailed(
                "Idempotency-Key must be 1–255 printable characters.",
                [
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": "invalid key",
                        "type": "value_error",
                    }
                ],
            )
        fingerprint = _fingerprint(await request.body())
        row = await idempotency.find(db, actor.id, method, path, key, now)
        if row is None and not await idempotency.reserve(
            db, actor.id, method, path, key, fingerprint, now
        ):
            row = await idempotency.find(db, actor.id, method, path, key, now)
        if row is not None:
            if row["request_hash"] != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used with a different request body."
                )
            raise Replay(row)
    return IdempotentRequest(db, actor, method, path, key)


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]


def install(app: FastAPI) -> None:
    @app.exception_handler(Replay)
    async def _replay(_request: Request, replay: Replay) -> Response:
        row = replay.row
        headers = dict(row["response_headers"] or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(
            content=row["response_body"] or b"",
            status_code=row["status_code"],
            headers=headers,
        )
