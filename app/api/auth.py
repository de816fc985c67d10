"""Sign-in and the caller's own account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.api.deps import API, AnonymousDb, Ctx, SettingsDep, client_address
from app.api.problems import problem, responses
from app.schemas.users import Token, UserOut
from app.services import users

router = APIRouter(prefix=API, tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    responses=responses(401, 413, 422, 429, 500, 503),
    summary="Sign in (OAuth2 password flow)",
)
async def sign_in(
    request: Request,
    db: AnonymousDb,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=255, pattern=r"^[^\x00]+$")],
    password: Annotated[str, Form(max_length=1024)],
) -> Response | Token:
    result = await users.sign_in(
        db,
        username,
        password,
        client_address(request),
        datetime.now(UTC),
        key=request.app.state.signing_key,
        minutes=settings.token_minutes,
    )
    if result.token is None:
        # Returned, not raised: the failure just recorded must be committed.
        return problem(
            401, "unauthorized", "Wrong username or password.", instance=request.url.path
        )
    return Token(access_token=result.token, expires_in=settings.token_minutes * 60)


me_router = APIRouter(prefix=API, tags=["auth"])


@me_router.get("/me", response_model=UserOut, responses=responses(401, 422, 500, 503))
async def me(ctx: Ctx) -> UserOut:
    actor = ctx.actor
    return UserOut(
        id=actor.id, username=actor.username, role=actor.role, country=actor.country, active=True
    )
