"""``pta demo load``: the synthetic demo data set (planned in demo_plan.py), written through the
very service functions the API uses — ``cases.create_case`` and ``lifecycle.apply_transition``,
each called with the simulated moment of the action and the case's current version — by demo
users of the right role. Events, milestones, rules and access checks are therefore real."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import aiosqlite
from sqlalchemy import delete, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    Db,
    SqlaDb,
    configure_sqlite,
    driver_url,
    make_engine,
)
from app.demo.plan import build_plan
from app.demo.timeline import (
    CASEWORKER,
    STATES,
    SUPERVISOR,
    TRANSIT_COUNTRY,
    TRANSIT_OFFICER,
    CasePlan,
    officer,
)
from app.errors import Conflict
from app.models import Case, ReferenceCounter, User
from app.models.record import CaseRecord
from app.schemas.cases import CaseCreate
from app.schemas.transitions import transition_adapter
from app.schemas.users import UserCreate, UserUpdate
from app.services import cases, funnel_rollup, lifecycle, users
from app.services.policy import Actor
from app.vocabulary import Action, RequirementItem, Role

log = logging.getLogger("pta.demo")
DEFAULT_SEED = 2016
#: (username, role, country, key the plan uses for the actor)
DEMO_ACCOUNTS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("demo_caseworker", Role.caseworker, None, CASEWORKER),
    ("demo_supervisor", Role.supervisor, None, SUPERVISOR),
    *(
        (f"demo_resettlement_officer_{c.lower()}", Role.resettlement_officer, c, officer(c))
        for c in STATES
    ),
    (
        f"demo_transit_officer_{TRANSIT_COUNTRY.lower()}",
        Role.transit_officer,
        TRANSIT_COUNTRY,
        TRANSIT_OFFICER,
    ),
    ("demo_manager", Role.manager, None, "manager"),
    ("demo_admin", Role.admin, None, "admin"),
)
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)


class DemoRefused(Conflict):
    """The database already holds cases and --force was not given."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    country: str | None
    password: str


@dataclass(frozen=True)
class Loaded:
    users: list[DemoUser]
    cases: int
    people: int
    actions: int
    replaced: int  # cases deleted first (--force)
    seconds: float
    #: references of the later cases of people registered twice (plan.py REGISTERED_TWICE)
    registered_twice: list[str] = field(default_factory=list)


def new_password() -> str:
    """Sixteen random characters in four groups, easy to read and type (about 78 bits)."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


async def count_cases(db: Db) -> int:
    return int(await db.scalar(select(func.count()).select_from(Case)))


async def delete_cases(db: Db) -> int:
    """Every case with its members, submissions, stays and events (the foreign keys cascade),
    and the reference counters, so references start again at 1. Users and the access log stay;
    load() then rebuilds the funnel rollup."""
    existing = await count_cases(db)
    await db.run(delete(Case))
    await db.run(delete(ReferenceCounter))
    return existing


async def ensure_users(db: Db, now: datetime) -> tuple[list[DemoUser], dict[str, Actor]]:
    """One demo user per role (officers: one per country), with new passwords: created, or
    reset (with their role, country and active flag) when they exist already."""
    demo_users: list[DemoUser] = []
    actors: dict[str, Actor] = {}
    for username, role, country, key in DEMO_ACCOUNTS:
        password = new_password()
        user_id: uuid.UUID | None = await db.scalar(
            select(User.id).where(User.username == username)
        )
        if user_id is None:
            data = UserCreate(username=username, password=password, role=role, country=country)
            row = await users.create_user(db, users.OPERATOR, data, now)
        else:
            change = UserUpdate(password=password, role=role, country=country, active=True)
            row = await users.update_user(db, users.OPERATOR, user_id, change, now)
        actors[key] = users.actor_from_row(row)
        demo_users.append(DemoUser(username, role, country, password))
    return demo_users, actors


async def write_case(
    db: Db, plan: CasePlan, actors: dict[str, Actor], checklist: Sequence[RequirementItem]
) -> tuple[str, int]:
    """Create one planned case and take its actions in order; its reference and the number
    of actions. The plan arranges every item of the default checklist; items this service
    does not track (``checklist``, from PTA_DEPARTURE_REQUIREMENTS) are left out."""
    data = CaseCreate.model_validate(plan.creation())
    record = await cases.create_case(db, actors[CASEWORKER], data, plan.created_at)
    case_id, version = record.case["id"], record.case["version"]
    steps = [
        step
        for step in plan.steps
        if step.command["action"] != Action.update_requirement or step.command["item"] in checklist
    ]
    for step in steps:
        body = _with_member_ids(step.command, record, plan.split_off)
        command = transition_adapter.validate_python(body)
        record = await lifecycle.apply_transition(
            db, actors[step.actor], case_id, command, f'"{version}"', step.at, checklist=checklist
        )
        version = record.case["version"]
    return record.case["reference"], len(steps)


def _with_member_ids(body: dict[str, Any], record: CaseRecord, split_off: int) -> dict[str, Any]:
    """A split decision's member ids, known once the case exists: the state accepts all but
    the last ``split_off`` members, and split_case moves those (the first of them leads)."""
    if not split_off:
        return body
    ids = [str(member["id"]) for member in record.members]
    kept, moving = ids[:-split_off], ids[-split_off:]
    if body["action"] == "decide" and body.get("decision") == "accepted":
        return {**body, "accepted_members": kept}
    if body["action"] == "split_case":
        return {**body, "members": moving, "principal": moving[0]}
    return body


async def load(
    db: Db,
    *,
    seed: int,
    today: date,
    now: datetime,
    replace: bool,
    checklist: Sequence[RequirementItem],
) -> Loaded:
    """Load the demo data in the caller's transaction. A database that already holds cases
    is refused (DemoRefused) unless ``replace``: then its cases are deleted first, so the
    published figures come out exactly again."""
    started = time.perf_counter()
    existing = await count_cases(db)
    if existing and not replace:
        raise DemoRefused(
            f"The database already holds {existing} cases: demo data is only loaded into a "
            "database without cases. Use --force to delete every case and load it anyway."
        )
    replaced = await delete_cases(db) if existing else 0
    demo_users, actors = await ensure_users(db, now)
    plans = build_plan(seed, today)
    actions = 0
    registered_twice = []
    for plan in plans:
        reference, taken = await write_case(db, plan, actors, checklist)
        actions += 1 + taken
        if plan.registered_before is not None:
            registered_twice.append(reference)
    # The funnel rollup recomputed from the cases: it forgets deleted cases (--force) and
    # starts folded, without thousands of deltas to add up.
    await funnel_rollup.rebuild(db)
    return Loaded(
        users=demo_users,
        cases=len(plans),
        people=sum(len(plan.members) for plan in plans),
        actions=actions,
        replaced=replaced,
        seconds=time.perf_counter() - started,
        registered_twice=registered_twice,
    )


def users_table(demo_users: Sequence[DemoUser]) -> str:
    rows = [("username", "role", "country", "password")]
    rows += [(u.username, str(u.role), u.country or "-", u.password) for u in demo_users]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- a faster SQLite connection for the load ------------------------------------------------


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is None:  # nobody awaits this call: say what failed rather than lose it
                log.error("a call without a waiter failed", extra={"error": type(error).__name__})
                raise
            future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite without its worker thread: each call runs at once on the caller's thread.

    aiosqlite hands every call (execute, fetch, cursor…) to a thread and back, which is most
    of the time of a load of tens of thousands of small statements. The loader is one task
    with one connection that blocks nobody else, so it may call sqlite3 directly: the load
    takes about half the time."""

    def __init__(self, path: str) -> None:
        def connector() -> sqlite3.Connection:
            return sqlite3.connect(
                path,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )

        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no worker thread to start


def _inline_sqlite_engine(target: URL) -> AsyncEngine:
    """The same connection settings as app.db's SQLite engine, over _InlineSqlite."""
    path = target.database or ":memory:"

    async def connect() -> _InlineSqlite:
        connection = _InlineSqlite(path)
        await connection._connect()
        return connection

    engine = create_async_engine(target, async_creator=connect, pool_size=1, max_overflow=0)
    configure_sqlite(engine)
    return engine


def loader_engine(settings: Settings) -> AsyncEngine:
    """The engine for a load: the inline SQLite connection for a SQLite file, else the
    service's own engine."""
    target = driver_url(settings.database_url)
    if target.get_backend_name() == "sqlite" and settings.sqlite_path() is not None:
        return _inline_sqlite_engine(target)
    return make_engine(settings.database_url, settings, pool_size=1)


@asynccontextmanager
async def loader_transaction(settings: Settings) -> AsyncIterator[Db]:
    """One transaction for a whole load: on a SQLite file the inline connection
    (``loader_engine``); on PostgreSQL the service's own asyncpg path, whose prepared
    statements make a load about twice as fast as SQLAlchemy's execution layer."""
    if driver_url(settings.database_url).get_backend_name() == "sqlite":
        engine = loader_engine(settings)
        try:
            async with engine.begin() as conn:
                yield SqlaDb(conn)
        finally:
            await engine.dispose()
        return
    database = Database(settings.database_url, settings)
    await database.start()
    try:
        async with database.transaction() as db:
            yield db
    finally:
        await database.close()
