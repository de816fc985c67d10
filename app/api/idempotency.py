"""``Idempotency-Key`` on POST /cases and transitions: a retry with the same key and body
gets the first 2xx answer again — its status and headers, with the case as the caller may see
it now (a case it can no longer see is a 404); the same key with another body is a 422."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

from app.api.deps import Context, Ctx
from app.api.responses import json_bytes
from app.db import Db, Row
from app.errors import IdempotencyKeyReused, ValidationFailed
from app.services import cases, idempotency
from app.services.policy import Actor
from app.services.views import present_case

REPLAYED_HEADERS = ("etag", "location", "content-type")


async def replayed(ctx: Context, row: Row) -> Response:
    """The first answer's status and headers; the case rendered by today's rules: the
    caller's role and country now, the case as it is now (read, and logged, like a GET)."""
    headers = dict(row["response_headers"] or {})
    headers["Idempotent-Replayed"] = "true"
    body = row["response_body"] or b""
    if body:
        case_id = uuid.UUID(str(orjson.loads(body)["id"]))
        record = await cases.read_case(ctx.db, ctx.actor, case_id, ctx.now)
        body = json_bytes(present_case(ctx.actor, record))
    return Response(content=body, status_code=row["status_code"], headers=headers)


def _fingerprint(body: bytes) -> str:
    """Same JSON, same fingerprint (key order and spacing do not matter)."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


class IdempotentRequest:
    def __init__(
        self,
        db: Db,
        actor: Actor,
        method: str,
        path: str,
        key: str | None,
        replay: Response | None = None,
    ) -> None:
        self.db, self.actor, self.method, self.path, self.key = db, actor, method, path, key
        #: the answer to a retry: routers return it before doing anything else (not raised,
        #: so the request's transaction commits the access log of the case it shows)
        self.replay = replay

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
            return IdempotentRequest(db, actor, method, path, key, await replayed(ctx, row))
    return IdempotentRequest(db, actor, method, path, key)


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]
