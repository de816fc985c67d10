"""What every command shares: preparing the database folder, one transaction per unit of
work, and printing validation errors as one line each."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.db import make_engine

log = logging.getLogger("pta.cli")
T = TypeVar("T")


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


def print_validation_errors(error: ValidationError) -> int:
    """One line per refused field on stderr; the exit status of a refused command."""
    for problem in error.errors(include_input=False):
        print(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
    return 2
