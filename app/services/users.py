"""Users, sign-in (with a throttle every worker and replica shares) and token checks."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import asyncpg
from sqlalchemy import (
    BigInteger,
    Delete,
    Insert,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.base import Executable

from app import security
from app.db import Database, Db
from app.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed
from app.models import SignInFailure, User
from app.models.base import uuid7
from app.schemas.common import Page
from app.schemas.users import UserCreate, UserUpdate, check_country_for_role
from app.services import pagination, policy
from app.services.policy import Actor, Permission
from app.vocabulary import Role

FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(minutes=15)
USER_COLUMNS = tuple(User.__table__.columns)

#: The actors the command line acts as: an operator creating users from a shell, and
#: reading aggregate reports (a manager sees the whole funnel and no case record).
OPERATOR = Actor(id=uuid.UUID(int=0), username="pta-cli", role=Role.admin)
REPORTER = Actor(id=uuid.UUID(int=0), username="pta-cli", role=Role.manager)


def actor_from_row(row: Any) -> Actor:
    return Actor(
        id=row["id"], username=row["username"], role=Role(row["role"]), country=row["country"]
    )


USER_BY_ID: Executable = select(*USER_COLUMNS).where(User.id == bindparam("user_id"))
USER_BY_NAME: Executable = select(*USER_COLUMNS).where(User.username == bindparam("name"))
#: Usernames are unique ignoring case: "Ana" is taken once "ana" exists.
NAME_TAKEN: Executable = select(User.id).where(
    func.lower(User.username) == func.lower(bindparam("name"))
)
RECENT_FAILURES: Executable = (
    select(SignInFailure.at)
    .where(
        SignInFailure.username == bindparam("name"),
        SignInFailure.client == bindparam("client"),
        SignInFailure.at > bindparam("since"),
    )
    .order_by(SignInFailure.at.desc())
)
INSERT_FAILURE: Insert = insert(SignInFailure)
FORGET_FAILURES: Delete = delete(SignInFailure).where(SignInFailure.at <= bindparam("before"))
INSERT_USER: Insert = insert(User).returning(*USER_COLUMNS)
UPDATE_USER: Update = update(User).where(User.id == bindparam("user_key")).returning(*USER_COLUMNS)
ACTIVE_ADMINS: Executable = (
    select(User.id).where(User.role == Role.admin, User.active.is_(True)).with_for_update()
)
USER_PAGE: Executable = (
    select(*USER_COLUMNS)
    .where(User.id > bindparam("after"))
    .order_by(User.id)
    .limit(bindparam("page_size"))
)
ATTEMPT_LOCK: Executable = select(
    func.pg_advisory_xact_lock(bindparam("attempt", type_=BigInteger()))
)


async def authenticate(db: Db, token: str, key: str, max_minutes: int) -> Actor:
    """The actor behind a bearer token, as the user row says now."""
    try:
        claims = security.decode_token(token, key, max_minutes)
    except security.InvalidToken:
        raise Unauthorized("The token is invalid or has expired.") from None
    row = await db.first(USER_BY_ID, {"user_id": claims.user_id})
    if row is None or not row["active"] or row["token_generation"] != claims.generation:
        raise Unauthorized("The token is invalid or has expired.")
    return actor_from_row(row)


async def still_the_same(database: Database, actor: Actor) -> bool:
    """For long answers (a streamed export): the user is still active, in the same role and
    country — read in a transaction of its own, which sees what committed since."""
    async with database.transaction(read_only=True) as db:
        row = await db.first(USER_BY_ID, {"user_id": actor.id})
    return row is not None and row["active"] and actor_from_row(row) == actor


@dataclass(frozen=True)
class SignIn:
    token: str | None  # None: wrong username or password (the failure is recorded)


async def sign_in(
    db: Db,
    username: str,
    password: str,
    client: str,
    now: datetime,
    *,
    key: str,
    minutes: int,
) -> SignIn:
    await _one_attempt_at_a_time(db, username, client)
    window = [
        row[0]
        for row in await db.all(
            RECENT_FAILURES, {"name": username, "client": client, "since": now - FAILURE_WINDOW}
        )
    ]
    if len(window) >= FAILURE_LIMIT:
        # Blocked until fewer than FAILURE_LIMIT failures remain in the window.
        leaves_at = window[FAILURE_LIMIT - 1] + FAILURE_WINDOW
        retry_after = max(1, math.ceil((leaves_at - now).total_seconds()))
        raise RateLimited("Too many failed sign-ins: try again later.", retry_after)
    row = await db.first(USER_BY_NAME, {"name": username})
    password_hash = row["password_hash"] if row is not None and row["active"] else None
    # Argon2 costs ~0.1 s of CPU: keep it off the event loop.
    valid = await anyio.to_thread.run_sync(security.verify_password, password, password_hash)
    if not valid or row is None:
        await db.run(INSERT_FAILURE, {"username": username, "client": client, "at": now})
        await db.run(FORGET_FAILURES, {"before": now - FAILURE_WINDOW})
        return SignIn(token=None)
    token = security.create_token(
        user_id=row["id"],
        role=row["role"],
        generation=row["token_generation"],
        key=key,
        now=now,
        minutes=minutes,
    )
    return SignIn(token=token)


async def _one_attempt_at_a_time(db: Db, username: str, client: str) -> None:
    """Sign-ins for one username from one client run one after another, so each counts the
    failures of those before it: guesses sent in parallel get five tries, not one each.
    PostgreSQL: a lock held until the transaction ends; SQLite already runs write
    transactions one at a time (BEGIN IMMEDIATE)."""
    if not db.dialect.is_postgresql:
        return
    digest = hashlib.sha256(f"sign-in\x00{username}\x00{client}".encode()).digest()
    pair = int.from_bytes(digest[:8], "big", signed=True)
    await db.run(ATTEMPT_LOCK, {"attempt": pair})


async def create_user(db: Db, actor: Actor, data: UserCreate, now: datetime) -> dict[str, Any]:
    policy.require(actor, Permission.manage_users)
    password_hash = await anyio.to_thread.run_sync(security.hash_password, data.password)
    if await db.first(NAME_TAKEN, {"name": data.username}) is not None:
        raise Conflict(f"The username {data.username!r} is already taken.")
    values = {
        "id": uuid7(),
        "username": data.username,
        "password_hash": password_hash,
        "role": data.role,
        "country": data.country,
        "active": True,
        "token_generation": 0,
        "created_at": now,
        "updated_at": now,
    }
    try:
        return dict(await db.one(INSERT_USER, values))
    except (IntegrityError, asyncpg.UniqueViolationError):
        raise Conflict(f"The username {data.username!r} is already taken.") from None


async def list_users(
    db: Db, actor: Actor, *, limit: int, cursor: str | None
) -> Page[dict[str, Any]]:
    policy.require(actor, Permission.manage_users)
    return await pagination.page_by_id(db, USER_PAGE, limit=limit, cursor=cursor)


async def user_by_name(db: Db, actor: Actor, username: str) -> dict[str, Any]:
    policy.require(actor, Permission.manage_users)
    row = await db.first(USER_BY_NAME, {"name": username})
    if row is None:
        raise NotFound(f"No user named {username!r}.")
    return dict(row)


async def update_user(
    db: Db, actor: Actor, user_id: uuid.UUID, data: UserUpdate, now: datetime
) -> dict[str, Any]:
    policy.require(actor, Permission.manage_users)
    row = await db.first(USER_BY_ID, {"user_id": user_id})
    if row is None:
        raise NotFound("No user with this id.")
    given = data.model_fields_set
    current_role = Role(row["role"])
    role = data.role or current_role
    if "country" in given:
        country = data.country
    elif role == current_role:
        country = row["country"]
    else:
        country = None  # a new role brings its own country (or none)
    try:
        check_country_for_role(role, country)
    except ValueError as error:
        raise ValidationFailed(
            str(error), [{"loc": ["body", "country"], "msg": str(error), "type": "value_error"}]
        ) from None
    values: dict[str, Any] = {"role": role, "country": country, "updated_at": now}
    if data.active is not None:
        values["active"] = data.active
    if data.password is not None:
        values["password_hash"] = await anyio.to_thread.run_sync(
            security.hash_password, data.password
        )
    if data.password is not None or (data.active is False and row["active"]):
        # Tokens issued before stop working for good: reactivating the user later does not
        # bring them back.
        values["token_generation"] = row["token_generation"] + 1
    if row["role"] == Role.admin and (role != Role.admin or values.get("active") is False):
        await _keep_one_admin(db, user_id)
    return dict(await db.one(UPDATE_USER, {**values, "user_key": user_id}))


async def _keep_one_admin(db: Db, leaving: uuid.UUID) -> None:
    # Lock the active admins' rows first: of two admins removing each other at once, the
    # second waits for the first and then counts what is left (PostgreSQL re-checks the
    # locked rows; SQLite runs write transactions one at a time anyway).
    admins = await db.all(ACTIVE_ADMINS)
    if not any(admin[0] != leaving for admin in admins):
        raise Conflict("This is the last active admin: make another admin first.")
