"""What routers ask for: the request's transaction, the signed-in actor, the clock, the
request body, and the client's address."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.api.problems import MAX_ERRORS
from app.config import Settings
from app.db import Database, Db
from app.errors import Unauthorized, UnsupportedMediaType, ValidationFailed
from app.services import users
from app.services.policy import Actor

#: Every endpoint of the contract lives under this prefix.
API = "/api/v1"


@dataclass(frozen=True)
class Context:
    """What an endpoint of a signed-in user works with: the request's transaction, the actor
    as the user row says now, and the moment the request is judged at."""

    db: Db
    actor: Actor
    now: datetime


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in first: send Authorization: Bearer <token>.")
    return token.strip()


async def signed_in(request: Request) -> AsyncIterator[Context]:
    """401 without a valid token (before any database work), then one transaction for the
    request, committed when the endpoint returns and before the response is sent; unknown
    query parameters are refused once the caller is known (the contract's order of checks).
    One dependency instead of several: FastAPI's per-dependency cost showed in profiles."""
    token = bearer_token(request)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        app = request.app
        actor = await users.authenticate(
            db, token, app.state.signing_key, app.state.settings.token_minutes
        )
        request.state.user_id = str(actor.id)
        request.state.role = str(actor.role)
        reject_unknown_query(request)
        yield Context(db, actor, datetime.now(UTC))


Ctx = Annotated[Context, Depends(signed_in, scope="function")]


async def reports_db(request: Request, ctx: Ctx) -> AsyncIterator[Db]:
    """Reads for reports: a read-only transaction on the read replica when
    ``PTA_REPORTS_DATABASE_URL`` names one, else the request's own transaction."""
    database: Database = request.app.state.reports_database
    if database is request.app.state.database:
        yield ctx.db
        return
    async with database.transaction(read_only=True) as db:
        yield db


ReportsDb = Annotated[Db, Depends(reports_db, scope="function")]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def anonymous_db(request: Request) -> AsyncIterator[Db]:
    """The transaction of a request made without a token (signing in)."""
    reject_unknown_query(request)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        yield db


AnonymousDb = Annotated[Db, Depends(anonymous_db, scope="function")]

M = TypeVar("M")


#: A body holds at most this many JSON values (a 30-member case holds about 400): beyond,
#: it is refused before validation, whose cost grows with every value and every error.
MAX_JSON_VALUES = 5000
#: Bodies larger than this are validated in a worker thread, off the event loop.
OFFLOAD_BYTES = 64 * 1024


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def parse_body(request: Request, adapter: TypeAdapter[M]) -> M:
    """Validate the JSON body straight from bytes. Routers call this after authentication
    and the idempotency check, so the order of checks is the contract's."""
    if not is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    body = await request.body()
    if len(body) > OFFLOAD_BYTES:
        return await anyio.to_thread.run_sync(_validate, adapter, body)
    return _validate(adapter, body)


def _validate(adapter: TypeAdapter[M], body: bytes) -> M:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # pydantic names the error
    else:
        if _too_many_values(parsed):
            raise ValidationFailed(
                f"The body holds more than {MAX_JSON_VALUES} values.",
                [{"loc": ["body"], "msg": "too many values", "type": "too_long"}],
            )
    try:
        return adapter.validate_json(body)
    except ValidationError as error:
        errors: list[dict[str, Any]] = [
            {**e, "loc": ("body", *e["loc"])}
            for e in islice(error.errors(include_input=False), MAX_ERRORS)
        ]
        first = errors[0]
        raise ValidationFailed(
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", errors
        ) from None


def _too_many_values(parsed: Any) -> bool:
    """Count the values of a parsed body, stopping as soon as there are too many."""
    count, pending = 0, [parsed]
    while pending:
        value = pending.pop()
        count += 1
        if count > MAX_JSON_VALUES:
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


@cache
def adapter_for(model: type[M]) -> TypeAdapter[M]:
    return TypeAdapter(model)


def _query_names(dependant: Dependant) -> frozenset[str]:
    names: set[str] = set()
    for param in dependant.query_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f.alias or n for n, f in annotation.model_fields.items()}
        else:
            names.add(param.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def _declared_query(route: Any) -> frozenset[str]:
    names: frozenset[str] | None = getattr(route, "pta_query_names", None)
    if names is None:
        names = _query_names(route.dependant)
        route.pta_query_names = names  # computed once per route
    return names


def reject_unknown_query(request: Request) -> None:
    """A typo in a sync filter must not silently return everything: unknown query → 422."""
    if not request.query_params:
        return
    unknown = sorted(set(request.query_params) - _declared_query(request.scope["route"]))
    if unknown:
        raise ValidationFailed(
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            [
                {
                    "loc": ["query", name],
                    "msg": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ],
        )


def client_address(request: Request) -> str:
    """The connection's address, or the X-Forwarded-For entry added by a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    proxies = request.app.state.settings.trusted_proxies
    if not proxies:
        return peer
    hops = [peer] + [
        part.strip()
        for part in reversed(request.headers.get("x-forwarded-for", "").split(","))
        if part.strip()
    ]
    for hop in hops:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64]
        if not any(address in network for network in proxies):
            return hop
    return hops[-1]
