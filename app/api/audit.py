"""The access log (supervisors and admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import API, Ctx
from app.api.problems import responses
from app.schemas.audit import AccessLogItem, AccessLogQuery, SealItem
from app.schemas.common import IsoTimestamp, Page
from app.services import audit, seals
from app.vocabulary import AccessAction

router = APIRouter(prefix=f"{API}/audit", tags=["audit"])


@router.get(
    "/access-log", response_model=Page[AccessLogItem], responses=responses(401, 403, 422, 500, 503)
)
async def access_log(
    ctx: Ctx,
    user_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    action: AccessAction | None = None,
    from_: Annotated[IsoTimestamp | None, Query(alias="from")] = None,
    to: Annotated[IsoTimestamp | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[AccessLogItem]:
    query = AccessLogQuery(user_id=user_id, case_id=case_id, action=action, from_=from_, to=to)
    return await audit.read_access_log(ctx.db, ctx.actor, query, limit=limit, cursor=cursor)


@router.get("/seals", response_model=Page[SealItem], responses=responses(401, 403, 422, 500, 503))
async def list_seals(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[SealItem]:
    """The seals, newest first, for outside parties to keep copies of."""
    return await seals.list_seals(ctx.db, ctx.actor, limit=limit, cursor=cursor)
