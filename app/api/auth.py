"""Sign-in and the caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from app.api.deps import (
    API,
    Conn,
    CurrentActor,
    Now,
    SettingsDep,
    checked_query,
    client_address,
    reject_unknown_query,
)
from app.api.problems import problem, responses
from app.schemas.users import Token, UserOut
from app.services import users

router = APIRouter(prefix=API, tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    responses=responses(401, 413, 422, 429, 500, 503),
    dependencies=[Depends(reject_unknown_query)],
    summary="Sign in (OAuth2 password flow)",
)
async def sign_in(
    request: Request,
    db: Conn,
    settings: SettingsDep,
    now: Now,
    username: Annotated[str, Form(min_length=1, max_length=255, pattern=r"^[^\x00]+$")],
    password: Annotated[str, Form(max_length=1024)],
) -> Response | Token:
    result = await users.sign_in(
        db,
        username,
        password,
        client_address(request),
        now,
        key=request.app.state.signing_key,
        minutes=settings.token_minutes,
    )
    if result.token is None:
        # Returned, not raised: the failure just recorded must be committed.
        return problem(
            401, "unauthorized", "Wrong username or password.", instance=request.url.path
        )
    return Token(access_token=result.token, expires_in=settings.token_minutes * 60)


me_router = APIRouter(prefix=API, tags=["auth"], dependencies=[Depends(checked_query)])


@me_router.get("/me", response_model=UserOut, responses=responses(401, 422, 500, 503))
async def me(db: Conn, actor: CurrentActor) -> UserOut:
    return UserOut(
        id=actor.id, username=actor.username, role=actor.role, country=actor.country, active=True
    )
