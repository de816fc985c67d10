"""User administration (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.deps import API, Ctx, adapter_for, parse_body
from app.api.openapi import json_body
from app.api.problems import responses
from app.schemas.common import Page
from app.schemas.users import UserAdminOut, UserCreate, UserUpdate
from app.services import users

router = APIRouter(prefix=f"{API}/users", tags=["users"])
ERRORS = (401, 403, 422, 500, 503)


@router.post(
    "",
    status_code=201,
    response_model=UserAdminOut,
    responses=responses(*ERRORS, 409, 413),
    openapi_extra=json_body("UserCreate", adapter_for(UserCreate)),
)
async def create_user(request: Request, ctx: Ctx) -> UserAdminOut:
    data = await parse_body(request, adapter_for(UserCreate))
    return UserAdminOut.model_validate(await users.create_user(ctx.db, ctx.actor, data, ctx.now))


@router.get("", response_model=Page[UserAdminOut], responses=responses(*ERRORS))
async def list_users(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[UserAdminOut]:
    page = await users.list_users(ctx.db, ctx.actor, limit=limit, cursor=cursor)
    return Page[UserAdminOut](
        items=[UserAdminOut.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.patch(
    "/{user_id}",
    response_model=UserAdminOut,
    responses=responses(*ERRORS, 404, 409, 413),
    openapi_extra=json_body("UserUpdate", adapter_for(UserUpdate)),
)
async def update_user(request: Request, ctx: Ctx, user_id: uuid.UUID) -> UserAdminOut:
    data = await parse_body(request, adapter_for(UserUpdate))
    row = await users.update_user(ctx.db, ctx.actor, user_id, data, ctx.now)
    return UserAdminOut.model_validate(row)
