"""Migrations: upgrade an empty database to head, find nothing the models lack, go back down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from app import migrate
from app.config import Settings
from app.db import make_engine
from app.models import Base
from tests.conftest import SECRET


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so the shared test schema is left alone."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    import asyncio

    import asyncpg

    name = f"pta_migrations_{uuid.uuid4().hex[:8]}"
    server = make_url(database_url).set(database="postgres")
    dsn = server.render_as_string(hide_password=False)

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, settings: Settings, check: Any) -> Any:
    import asyncio

    async def run() -> Any:
        engine = make_engine(url, settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(check)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def test_upgrade_matches_models_and_downgrade_empties(empty_database: str) -> None:
    settings = Settings(database_url=empty_database, secret_key=SECRET)
    migrate.upgrade(settings)
    assert _inspect(empty_database, settings, _differences) == []
    assert set(Base.metadata.tables) <= _inspect(empty_database, settings, _tables)

    migrate.downgrade(settings, revision="base")
    assert _inspect(empty_database, settings, _tables) <= {"alembic_version"}
