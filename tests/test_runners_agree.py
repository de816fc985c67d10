"""The two runners behave alike (PostgreSQL): every statement the service ran through asyncpg
during a case's whole life, its reads, lists, history and reports, is run again with the same
parameters through SQLAlchemy and straight through asyncpg, and gives the same rows. Both
runners refuse a missing parameter and a key that is neither a column nor a parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.base import Executable

from app.db import AsyncpgDb, Db, SqlaDb
from app.models import Case, User
from tests.factories import Factory
from tests.lifecycle_helpers import Driver, make_cast

pytestmark = pytest.mark.asyncio

Ran = list[tuple[Executable, dict[str, Any]]]


@pytest.fixture
def client(checklist_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The scenarios clear the default departure checklist before departing."""
    return checklist_client


@pytest.fixture
def postgresql(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the asyncpg runner serves PostgreSQL only")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Ran:
    """Every statement (with its first parameters) the asyncpg runner runs from now on."""
    ran: Ran = []
    seen: set[int] = set()

    def record(statement: Executable, params: Mapping[str, Any] | None) -> None:
        if id(statement) not in seen:
            seen.add(id(statement))
            ran.append((statement, dict(params or {})))

    for name in ("all", "run"):
        original = getattr(AsyncpgDb, name)

        async def wrapped(
            self: AsyncpgDb,
            statement: Executable,
            params: Mapping[str, Any] | None = None,
            _original: Any = original,
        ) -> Any:
            record(statement, params)
            return await _original(self, statement, params)

        monkeypatch.setattr(AsyncpgDb, name, wrapped)
    return ran


def _comparable(rows: Sequence[Any]) -> list[str]:
    """Rows as text, without a number a sequence gave (each replay draws the next one)."""
    return sorted(
        repr({k: v for k, v in row.items() if not (k == "id" and isinstance(v, int))})
        for row in rows
    )


async def _through(db: Db, statement: Executable, params: dict[str, Any]) -> Any:
    """The rows (or the count of a write without RETURNING), or the SQLSTATE of the error: a
    replayed insert meets the row it inserted the first time, on both runners alike."""
    try:
        if getattr(statement, "is_dml", False) and not getattr(statement, "_returning", ()):
            return await db.run(statement, params)
        return _comparable(await db.all(statement, params))
    except (asyncpg.PostgresError, DBAPIError) as error:
        cause = getattr(error, "orig", None) or error
        return ("error", getattr(cause, "sqlstate", None) or type(cause).__name__)


async def _in_rolled_back(app: FastAPI, asyncpg_side: bool, statement: Any, params: Any) -> Any:
    database = app.state.database
    if asyncpg_side:
        async with database.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                return await _through(AsyncpgDb(conn, database.engine.dialect), statement, params)
            finally:
                await transaction.rollback()
    async with database.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            return await _through(SqlaDb(conn), statement, params)
        finally:
            await transaction.rollback()


async def test_every_statement_gives_the_same_rows_through_both_runners(
    postgresql: None,
    checklist_app: FastAPI,
    checklist_client: httpx.AsyncClient,
    make: Factory,
    recorded: Ran,
) -> None:
    """A whole life with the default departure checklist, a split and a question asked."""
    app, client = checklist_app, checklist_client
    drive = Driver(client, make, await make_cast(make))
    names = ("resettled", "closed/from_in_transit", "in_transit/accepted (split resolved)")
    for name in (*names, "submitted/pending (information provided)"):
        case = await drive.build(name)
        for user in (drive.cast.worker, drive.cast.usa, drive.cast.cri):
            await client.get(f"/api/v1/cases/{case['id']}", headers=user.headers)
            await client.get(f"/api/v1/cases/{case['id']}/events", headers=user.headers)
            await client.get("/api/v1/cases?limit=1", headers=user.headers)
            await client.get("/api/v1/cases?status=resettled", headers=user.headers)
            await client.get("/api/v1/reports/funnel?basis=cohort", headers=user.headers)
            await client.get("/api/v1/reports/transit", headers=user.headers)
    await client.get("/api/v1/audit/access-log?limit=2", headers=drive.cast.boss.headers)
    assert len(recorded) >= 20, "the workload ran too few statements to mean anything"
    differ = []
    for statement, params in recorded:
        through_sqlalchemy = await _in_rolled_back(app, False, statement, params)
        through_asyncpg = await _in_rolled_back(app, True, statement, params)
        if through_sqlalchemy != through_asyncpg:
            differ.append(
                f"{statement}\n  sqlalchemy: {through_sqlalchemy}\n  asyncpg: {through_asyncpg}"
            )
    assert not differ, "\n".join(differ)


MISSPELT = select(Case.id).where(Case.reference == bindparam("reference"))
WRITE = insert(User)


async def test_both_runners_refuse_a_missing_parameter_and_an_unknown_key(
    postgresql: None, app: FastAPI
) -> None:
    for asyncpg_side in (False, True):
        with pytest.raises(Exception, match="reference"):
            await _in_rolled_back(app, asyncpg_side, MISSPELT, {})
        with pytest.raises(KeyError, match="refrence"):
            await _in_rolled_back(app, asyncpg_side, MISSPELT, {"reference": "x", "refrence": "x"})
        with pytest.raises(KeyError, match="usernme"):
            await _in_rolled_back(app, asyncpg_side, WRITE, {"usernme": "x"})
