"""Settings: parsing of the list-valued variables, and what PTA_PGBOUNCER changes on a real
PostgreSQL connection."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import Database, driver_url, make_engine
from tests.conftest import SECRET


def test_list_settings_are_comma_separated() -> None:
    settings = Settings(
        transit_capacity="cri=200, PAN=80",
        trusted_proxies="10.0.0.0/8,127.0.0.1",
        cors_origins="https://a.example, https://b.example",
    )
    assert settings.transit_capacity == {"CRI": 200, "PAN": 80}
    assert ipaddress.ip_address("10.1.2.3") in settings.trusted_proxies[0]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    with pytest.raises(ValueError, match="COUNTRY=NUMBER"):
        Settings(transit_capacity="CRI:200")


def test_plain_urls_pick_the_driver() -> None:
    assert driver_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert driver_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert driver_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="unsupported"):
        driver_url("mysql://u@h/db")


@pytest.mark.parametrize("pgbouncer", [False, True])
async def test_pgbouncer_mode_drops_session_settings(database_url: str, pgbouncer: bool) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("PostgreSQL only")
    settings = Settings(database_url=database_url, secret_key=SECRET, pgbouncer=pgbouncer)
    engine = make_engine(database_url, settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            timeout = await conn.scalar(text("SHOW statement_timeout"))
            for _ in range(3):  # the same statement again: no name collisions either way
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
    assert (timeout == "0") is pgbouncer


@pytest.mark.parametrize("pgbouncer", [False, True])
async def test_requests_connect_in_pgbouncer_mode(database_url: str, pgbouncer: bool) -> None:
    """The pool requests run on (asyncpg's own, not SQLAlchemy's) starts and serves with
    PTA_PGBOUNCER: no statement cache, so nothing named outlives a transaction, and no session
    settings at connect. (It once refused to start: SQLAlchemy's connect arguments were passed
    to asyncpg, and every replica behind PgBouncer failed at start-up.)"""
    if not database_url.startswith("postgres"):
        pytest.skip("PostgreSQL only")
    settings = Settings(database_url=database_url, secret_key=SECRET, pgbouncer=pgbouncer)
    database = Database(database_url, settings)
    await database.start()
    try:
        for _ in range(3):  # the same statement again: no name collisions either way
            async with database.transaction() as db:
                row = await db.first(text("SELECT current_setting('statement_timeout') AS t"))
        assert database.pool is not None
        async with database.pool.acquire() as conn:
            prepared = await conn.fetchval("SELECT count(*) FROM pg_prepared_statements")
    finally:
        await database.close()
    assert row is not None
    assert (row["t"] == "0") is pgbouncer
    assert (prepared == 0) is pgbouncer
