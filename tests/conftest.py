"""Test fixtures. SQLite (a temporary file) by default; PostgreSQL when TEST_DATABASE_URL is
set — the database it names is emptied between tests, so never point it at real data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import migrate, security
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Base
from app.vocabulary import RequirementItem
from tests.factories import Factory

security.use_fast_hashing_for_tests()

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="pta-test-") as folder:
        yield f"sqlite:///{Path(folder) / 'test.db'}"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        transit_capacity="CRI=200",
        funnel_fold_seconds=0,  # tests fold when they mean to
        seal_seconds=0,  # tests seal when they mean to
        retention_interval_seconds=0,  # and erase when they mean to
        # Most tests are about other rules and depart without a checklist; the departure
        # arrangements' tests and the pair table use ``checklist_app`` (the default six items).
        departure_requirements="",
        webhook_poll_seconds=0,  # tests deliver when they mean to (tests/test_webhooks.py)
    )


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    migrate.downgrade(settings, revision="base") if _has_schema(settings) else None
    migrate.upgrade(settings)
    return settings


def _has_schema(settings: Settings) -> bool:
    import asyncio

    async def check() -> bool:
        engine = make_engine(settings.database_url, settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1 FROM alembic_version"))
            return True
        except Exception:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(check())


@pytest.fixture(scope="session")
async def app(migrated: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(migrated)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def checklist_app(migrated: Settings) -> AsyncIterator[FastAPI]:
    """The service with the default PTA_DEPARTURE_REQUIREMENTS, on the same database."""
    defaults = {"departure_requirements": tuple(RequirementItem)}
    application = create_app(migrated.model_copy(update=defaults))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def checklist_client(
    checklist_app: FastAPI, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=checklist_app, client=("203.0.113.8", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
        yield http


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    engine: AsyncEngine = app.state.engine
    return engine


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # After a test that wrote 100 k cases on a busy machine, the service's own
            # statement timeout must not leave them behind for every later test.
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
        # DELETE beats TRUNCATE on tables this small (TRUNCATE rewrites every file).
        for table in tables:
            await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def client(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
        yield http


@pytest.fixture
def make(client: httpx.AsyncClient, engine: AsyncEngine) -> Factory:
    return Factory(client, engine, SECRET)
