"""Migrations: upgrade an empty database to head, find nothing the models lack, go back down."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, inspect, select
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


MINE = "0006"


def _rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but Alembic's own), in a stable order."""
    found = {}
    for name in sorted(_tables(conn) - {"alembic_version"}):
        table = Table(name, MetaData(), autoload_with=conn)
        columns = sorted(table.columns, key=lambda column: column.name)
        rows = conn.execute(select(*columns)).all()
        found[name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def test_information_requests_and_departure_requirements_keep_every_row(
    empty_database: str,
) -> None:
    """Revision 0006 upgrades a database holding the demo data from the revision before it
    (taken from Alembic's script directory, so a re-chained history is followed) and changes
    nothing but what it adds. The demo data is loaded by ``pta demo load`` at head and the
    database taken back to the revision before (the data written by 0006's features goes with
    it): every row there must come through the upgrade exactly as it was."""
    settings = Settings(database_url=empty_database, secret_key=SECRET)
    previous = (
        ScriptDirectory.from_config(migrate.alembic_config(settings))
        .get_revision(MINE)
        .down_revision
    )
    assert isinstance(previous, str)
    migrate.upgrade(settings)
    env = {**os.environ, "PTA_DATABASE_URL": empty_database}
    env.pop("PTA_DEPARTURE_REQUIREMENTS", None)
    loaded = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "load"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    migrate.downgrade(settings, revision=previous)
    before = _inspect(empty_database, settings, _rows)
    assert len(before["cases"]) > 1000 and before["submissions"]
    assert "departure_requirements" not in before and "information_requests" not in before

    migrate.upgrade(settings, revision=MINE)
    after = _inspect(empty_database, settings, _rows)
    assert set(after) == set(before) | {"departure_requirements", "information_requests"}
    for name, rows in before.items():
        assert after[name] == rows, name
    assert after["departure_requirements"] == after["information_requests"] == []
