"""What routers ask for: the request's transaction, the signed-in actor, the clock, the
request body, and the client's address."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.config import Settings
from app.db import Db, get_db, get_reports_db
from app.errors import Unauthorized, ValidationFailed
from app.services import users
from app.services.policy import Actor

#: Every endpoint of the contract lives under this prefix.
API = "/api/v1"

#: The request's transaction (committed before the response is sent).
Conn = Annotated[Db, Depends(get_db, scope="function")]
#: Reads for reports: the read replica when one is configured.
ReportsConn = Annotated[Db, Depends(get_reports_db, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def current_actor(
    request: Request,
    db: Conn,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Sign in first: send Authorization: Bearer <token>.")
    actor = await users.authenticate(db, credentials.credentials, request.app.state.signing_key)
    request.state.user_id = str(actor.id)
    request.state.role = str(actor.role)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def now() -> datetime:
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(now)]

M = TypeVar("M")


async def parse_body(request: Request, adapter: TypeAdapter[M]) -> M:
    """Validate the JSON body straight from bytes. Routers call this after authentication
    and the idempotency check, so the order of checks is the contract's."""
    body = await request.body()
    try:
        return adapter.validate_json(body)
    except ValidationError as error:
        errors: list[dict[str, Any]] = [
            {**e, "loc": ("body", *e["loc"])} for e in error.errors(include_input=False)
        ]
        first = errors[0]
        raise ValidationFailed(
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", errors
        ) from None


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


async def reject_unknown_query(request: Request) -> None:
    """A typo in a sync filter must not silently return everything: unknown query → 422.
    Routers that need a token use ``checked_query`` so that 401 still comes first."""
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


async def checked_query(request: Request, _actor: CurrentActor) -> None:
    await reject_unknown_query(request)
