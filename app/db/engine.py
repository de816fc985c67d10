"""Engines: SQLAlchemy engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), with the
connection settings of each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from app.chain import sha256_hex
from app.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def driver_url(url: str) -> URL:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")


def make_engine(
    url: str, settings: Settings, *, pool_size: int | None = None, jobs: bool = False
) -> AsyncEngine:
    """``jobs``: for work that reads whole tables (sealing, verifying): no client-side limit on
    a statement (each job sets the server's own, ``statement_timeout``, for itself)."""
    target = driver_url(url)
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(target)
    connect_args = asyncpg_connect_args(settings)
    if jobs:
        connect_args["command_timeout"] = None
    return create_async_engine(
        target,
        pool_size=pool_size or settings.pool_size,
        max_overflow=0,
        pool_timeout=10,
        pool_pre_ping=False,
        connect_args=connect_args,
    )


def asyncpg_connect_args(settings: Settings) -> dict[str, Any]:
    server_settings = {"application_name": "pta-case-service"}
    connect_args: dict[str, Any] = {
        "timeout": 5,
        "command_timeout": settings.statement_timeout_ms / 1000 + 5,
        "server_settings": server_settings,
    }
    if settings.pgbouncer:
        # Transaction pooling hands each transaction any server connection: named prepared
        # statements must not outlive it, and startup parameters other than the
        # application name are refused (set statement_timeout with ALTER ROLE instead).
        connect_args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            prepared_statement_name_func=lambda: f"__asyncpg_{uuid.uuid4().hex}__",
        )
    else:
        server_settings["statement_timeout"] = str(settings.statement_timeout_ms)
        server_settings["idle_in_transaction_session_timeout"] = str(
            settings.statement_timeout_ms * 4
        )
    return connect_args


def _sqlite_engine(target: URL) -> AsyncEngine:
    memory = target.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if memory:
        kwargs.update(poolclass=StaticPool)
        kwargs["connect_args"]["check_same_thread"] = False
    engine = create_async_engine(target, **kwargs)
    configure_sqlite(engine, wal=not memory)
    return engine


def configure_sqlite(engine: AsyncEngine, *, wal: bool = True) -> None:
    """Foreign keys on, WAL, a busy timeout, SHA-256 as a function, and write transactions
    that take the write lock up front, for every connection of this SQLite engine."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        # The hash chain's SHA-256 (PostgreSQL has its own: SqlDialect.sha256_hex).
        dbapi_connection.create_function("pta_sha256", 1, _sha256_or_null, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a transaction that read first and writes later can
        # then never fail on the lock upgrade (SQLITE_BUSY), it waits its turn instead.
        # Read-only work (a streamed export) reads a WAL snapshot without blocking writers.
        read_only = connection.get_execution_options().get("pta_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sha256_or_null(text: str | None) -> str | None:
    return None if text is None else sha256_hex(text)
