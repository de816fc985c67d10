"""What every command shares: preparing the database folder, one transaction per unit of
work, checking the schema first, and saying what went wrong in one line a person can act on."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import migrate
from app.config import ConfigurationError, Settings
from app.db import make_engine

log = logging.getLogger("pta.cli")
T = TypeVar("T")
REFUSED_USER = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)


def prepare(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def run_in_transaction(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run one unit of work in one transaction, as a request would."""

    async def main() -> T:
        engine = make_engine(settings.database_url, settings, pool_size=2)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run a job that opens transactions of its own (sealing, verifying, erasing)."""

    async def main() -> T:
        engine = make_engine(settings.database_url, settings, pool_size=2, jobs=True)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def plain_message(problem: ErrorDetails, prefix: str = "") -> str:
    """A pydantic error as a person reads it: ``field: what is wrong`` (without pydantic's
    "Value error, " wording, and without a field for a rule about the whole input)."""
    given = problem.get("ctx", {}).get("error")
    message = str(given) if problem["type"] == "value_error" and given else problem["msg"]
    field = (
        "_".join(map(str, problem["loc"])).upper() if prefix else ".".join(map(str, problem["loc"]))
    )
    return f"{prefix}{field}: {message}" if field else message


def print_validation_errors(error: ValidationError) -> int:
    """One line per refused field on stderr; the exit status of a refused command."""
    for problem in error.errors(include_input=False):
        print(f"error: {plain_message(problem)}", file=sys.stderr)
    return 2


def public_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """Where a person on this machine opens the service (0.0.0.0 listens on loopback too)."""
    host = host or settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  # nosec B104 (a comparison, not a bind)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.port}"


def require_schema(settings: Settings) -> None:
    """Refuse, before touching it, a database that does not exist yet or is not migrated."""
    path = settings.sqlite_path()
    if path is not None and not path.exists():
        raise ConfigurationError(
            f"no database at {path}: run `pta db upgrade` first (or `make run`), or set "
            "PTA_DATABASE_URL"
        )
    revision = run_in_transaction(settings, migrate.current_revision)
    if revision != migrate.head_revision(settings):
        raise ConfigurationError(
            f"the database is at schema {revision or 'none (empty)'}, not the newest "
            f"({migrate.head_revision(settings)}): run `pta db upgrade` first"
        )


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        each = todo.pop()
        if each is None or id(each) in seen:
            continue
        seen.add(id(each))
        yield each
        todo += [each.__cause__, each.__context__, getattr(each, "orig", None)]


def database_problem(error: BaseException, url: str) -> str | None:
    """One sentence for a database that cannot be used (never its password, never data), or
    None when the error is something else (a bug: it keeps its traceback)."""
    try:
        parsed: Any = make_url(url)
    except Exception:  # the URL was checked by Settings; be safe anyway
        return None
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    fix = "check PTA_DATABASE_URL"
    for cause in _causes(error):
        if isinstance(cause, asyncpg.InvalidCatalogNameError):
            return (
                f"the database {parsed.database!r} does not exist on {where}: create it "
                f"(createdb -h {parsed.host or 'localhost'} {parsed.database}) or {fix}"
            )
        if isinstance(cause, REFUSED_USER):
            return f"PostgreSQL at {where} refused user {parsed.username!r}: {fix}"
        if isinstance(cause, socket.gaierror):
            return f"the database host {parsed.host!r} is not known: {fix}"
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing answers at {where} (is PostgreSQL running there?): {fix}"
        if isinstance(cause, TimeoutError):
            return f"no answer from {where} in time: {fix}"
        if isinstance(cause, OSError) and not parsed.get_backend_name().startswith("sqlite"):
            why = cause.strerror or "network error"
            return f"cannot reach PostgreSQL at {where} ({why}): {fix}"
        if isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause):
            return f"cannot open the SQLite file {parsed.database!r}: {fix}"
    return None
