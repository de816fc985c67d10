"""Running statements: the Db interface every service uses, through SQLAlchemy
(``SqlaDb``) or straight through asyncpg (``AsyncpgDb``), and the service's ``Database``
(an engine plus, on PostgreSQL, an asyncpg pool for requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, cast

import asyncpg
import orjson
from sqlalchemy import BindParameter
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import visitors
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert, Update

from app.config import Settings
from app.db.dialect import POSTGRESQL, SqlDialect, dialect_named
from app.db.engine import asyncpg_connect_args, driver_url, make_engine

Row = Mapping[Any, Any]
Params = Mapping[str, Any] | None


class Record:
    """A result row read by column name (``row["reference"]``) or by position (``row[0]``,
    tuple unpacking), exactly like asyncpg's records, so services see one kind of row."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: Sequence[Any]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def keys(self) -> Any:
        return self._index.keys()

    def values(self) -> Any:
        return iter(self._values)

    def items(self) -> Any:
        return zip(self._index, self._values, strict=True)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values[self._index[key]] if key in self._index else default

    def __repr__(self) -> str:
        return f"Record({dict(self.items())!r})"


def _records(keys: Sequence[str], rows: Any) -> list[Row]:
    index = {key: position for position, key in enumerate(keys)}
    return [cast(Row, Record(index, tuple(row))) for row in rows]


@dataclass(frozen=True)
class _Accepted:
    """The names a statement takes as parameters: its bind parameters, and for an INSERT or
    UPDATE without VALUES the table's columns."""

    statement: Executable
    names: frozenset[str]


_accepted: dict[int, _Accepted] = {}


def check_keys(statement: Executable, params: Mapping[str, Any] | None) -> None:
    """Refuse a parameter that is neither a column nor a parameter of the statement: a
    misspelt key must fail, never be dropped silently."""
    if not params:
        return
    known = _accepted.get(id(statement))
    if known is None or known.statement is not statement:
        # The statement as written (a clause the compiler folds away, such as ``x AND
        # false``, still names its parameters).
        names = {
            element.key
            for element in visitors.iterate(cast(Any, statement))
            if isinstance(element, BindParameter)
        }
        if isinstance(statement, Insert | Update):
            names |= set(statement.table.c.keys())
        known = _Accepted(statement, frozenset(names))
        if len(_accepted) > 4096:  # statements built per request would pile up otherwise
            _accepted.clear()
        _accepted[id(statement)] = known
    unknown = params.keys() - known.names
    if unknown:
        raise KeyError(f"not a column or parameter of the statement: {', '.join(sorted(unknown))}")


class Db:
    """One transaction's worth of database access, the same for every service whatever the
    database: statements are SQLAlchemy Core objects, values come as parameters. A missing
    parameter or an unknown key raises on every runner."""

    dialect: SqlDialect

    async def all(self, statement: Executable, params: Params = None) -> Sequence[Row]:
        raise NotImplementedError

    async def first(self, statement: Executable, params: Params = None) -> Row | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None

    async def one(self, statement: Executable, params: Params = None) -> Row:
        row = await self.first(statement, params)
        if row is None:
            raise LookupError("expected a row")
        return row

    async def scalar(self, statement: Executable, params: Params = None) -> Any:
        row = await self.first(statement, params)
        return None if row is None else row[0]

    async def run(self, statement: Executable, params: Params = None) -> int:
        """Execute a write; return the number of rows it touched."""
        raise NotImplementedError

    async def run_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError


class SqlaDb(Db):
    """Through SQLAlchemy: SQLite, and PostgreSQL outside requests (CLI, jobs, tests)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = dialect_named(conn.dialect.name)

    async def all(self, statement: Executable, params: Params = None) -> Sequence[Row]:
        check_keys(statement, params)
        result = await self.conn.execute(statement, dict(params or {}))
        return _records(list(result.keys()), result.all())

    async def run(self, statement: Executable, params: Params = None) -> int:
        check_keys(statement, params)
        return int((await self.conn.execute(statement, dict(params or {}))).rowcount)

    async def run_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            check_keys(statement, rows[0])
            await self.conn.execute(statement, [dict(row) for row in rows])

    async def stream(
        self, statement: Executable, params: Params = None, *, batch: int = 5000
    ) -> AsyncIterator[Row]:
        """The rows of a long result, ``batch`` at a time (a server-side cursor on
        PostgreSQL): jobs that read a whole table (sealing, ``pta audit verify``) keep only
        one batch in memory."""
        check_keys(statement, params)
        result = await self.conn.stream(
            statement.execution_options(yield_per=batch), dict(params or {})
        )
        index = {key: position for position, key in enumerate(result.keys())}
        async for rows in result.partitions(batch):
            for row in rows:
                yield cast(Row, Record(index, tuple(row)))


@dataclass(frozen=True)
class _Plan:
    """A statement compiled once for asyncpg: its SQL, where each parameter goes, and the
    type conversions SQLAlchemy would apply (JSON, timestamps)."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binders: tuple[Callable[[Any], Any] | None, ...]
    readers: tuple[tuple[int, Callable[[Any], Any]], ...]


class AsyncpgDb(Db):
    """Straight through asyncpg, for requests on PostgreSQL: the statement is compiled once
    and prepared once per connection, so running it costs tens of microseconds instead of
    the hundreds SQLAlchemy's execution layer takes."""

    dialect = POSTGRESQL
    _plans: ClassVar[dict[tuple[int, tuple[str, ...]], tuple[Executable, _Plan]]] = {}

    def __init__(self, conn: asyncpg.Connection, sa_dialect: Dialect) -> None:
        self.conn = conn
        self.sa_dialect = sa_dialect

    def _plan(self, statement: Executable, params: Params) -> _Plan:
        check_keys(statement, params)
        # An INSERT or UPDATE given no VALUES takes its columns from the parameters, as
        # SQLAlchemy does: one plan per set of columns.
        columns: tuple[str, ...] = ()
        if isinstance(statement, Insert | Update) and params:
            table_columns = statement.table.c
            columns = tuple(name for name in params if name in table_columns)
        key = (id(statement), columns)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is statement:
            return cached[1]
        compiled = cast(Any, statement).compile(
            dialect=self.sa_dialect, column_keys=list(columns) or None
        )
        if "__[POSTCOMPILE" in compiled.string:
            raise ValueError("IN lists are compiled per call: use sql.in_list or OR instead")
        names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        readers = []
        for index, column in enumerate(getattr(statement, "exported_columns", [])):
            reader = column.type.result_processor(self.sa_dialect, None)
            if reader is not None:
                readers.append((index, reader))
        plan = _Plan(
            sql=compiled.string,
            names=names,
            # a value the statement itself holds; any other parameter must be given
            defaults={
                name: binds[name].effective_value
                for name in names
                if name in binds and _holds_value(binds[name])
            },
            binders=tuple(
                binds[name].type.bind_processor(self.sa_dialect) if name in binds else None
                for name in names
            ),
            readers=tuple(readers),
        )
        if len(self._plans) > 4096:  # statements built per request would pile up otherwise
            self._plans.clear()
        self._plans[key] = (statement, plan)
        return plan

    @staticmethod
    def _args(plan: _Plan, params: Params) -> list[Any]:
        given = params or {}
        args = []
        for name, binder in zip(plan.names, plan.binders, strict=True):
            if name in given:
                value = given[name]
            elif name in plan.defaults:
                value = plan.defaults[name]
            else:
                raise KeyError(f"a value is required for the parameter {name!r}")
            args.append(binder(value) if binder is not None and value is not None else value)
        return args

    def _rows(self, plan: _Plan, records: list[asyncpg.Record]) -> Sequence[Row]:
        if not plan.readers:
            return records
        rows = []
        index = {key: position for position, key in enumerate(records[0].keys())} if records else {}
        for record in records:
            values = list(record.values())
            for position, reader in plan.readers:
                values[position] = reader(values[position])
            rows.append(cast(Row, Record(index, values)))
        return rows

    async def all(self, statement: Executable, params: Params = None) -> Sequence[Row]:
        plan = self._plan(statement, params)
        records = await self.conn.fetch(plan.sql, *self._args(plan, params))
        return self._rows(plan, records)

    async def run(self, statement: Executable, params: Params = None) -> int:
        plan = self._plan(statement, params)
        status = await self.conn.execute(plan.sql, *self._args(plan, params))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def run_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            plan = self._plan(statement, rows[0])
            await self.conn.executemany(plan.sql, [self._args(plan, row) for row in rows])


def _holds_value(bind: Any) -> bool:
    return not bind.required and (bind.value is not None or bind.callable is not None)


#: Errors after which asyncpg's view of a connection cannot be trusted: the client side of
#: the protocol (e.g. a FATAL the server sent to an idle pooled connection just before closing
#: it leaves the protocol in a state where the next BEGIN fails), or the network.
CONNECTION_IN_DOUBT = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


#: Connect arguments of SQLAlchemy's asyncpg dialect that asyncpg.connect() itself refuses.
#: Without a statement cache (PTA_PGBOUNCER) asyncpg prepares every statement unnamed, so
#: nothing named outlives the transaction PgBouncer gave it a server connection for.
SQLALCHEMY_ONLY_ARGS = frozenset({"prepared_statement_cache_size", "prepared_statement_name_func"})


class Database:
    """The service's database: a SQLAlchemy engine for everything, plus (on PostgreSQL) an
    asyncpg pool that requests use directly."""

    def __init__(self, url: str, settings: Settings, *, optional: bool = False) -> None:
        """``optional``: a database the service can serve without (the reports' read
        replica). No connection is made to it at start, so its outage never keeps a worker
        from starting: its requests answer 503 until it is back."""
        self.url, self.settings, self.optional = url, settings, optional
        self.engine = make_engine(url, settings)
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        if self.engine.dialect.name == "postgresql":
            dsn = driver_url(self.url).set(drivername="postgresql", query={})
            args = {
                name: value
                for name, value in asyncpg_connect_args(self.settings).items()
                if name not in SQLALCHEMY_ONLY_ARGS
            }
            self.pool = await asyncpg.create_pool(
                dsn.render_as_string(hide_password=False),
                min_size=0 if self.optional else 1,
                max_size=self.settings.pool_size,
                max_inactive_connection_lifetime=300,
                reset=_reset,
                init=_json_codecs,
                **({"statement_cache_size": 512} | args),
            )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[Db]:
        if self.pool is not None:
            async with self.pool.acquire(timeout=10) as conn:
                try:
                    async with conn.transaction(readonly=read_only):
                        yield AsyncpgDb(conn, self.engine.dialect)
                except CONNECTION_IN_DOUBT:
                    conn.terminate()  # never hand a connection in doubt to the next request
                    raise
            return
        async with engine_transactions(self.engine)(read_only=read_only) as db:
            yield db


class Transactions(Protocol):
    """What opens one transaction: ``Database.transaction``, or ``engine_transactions``."""

    def __call__(self, *, read_only: bool = False) -> AbstractAsyncContextManager[Db]: ...


def engine_transactions(engine: AsyncEngine) -> Transactions:
    """Transactions on a SQLAlchemy engine, as ``Database.transaction`` opens them without an
    asyncpg pool."""

    @asynccontextmanager
    async def transaction(*, read_only: bool = False) -> AsyncIterator[Db]:
        async with engine.connect() as conn:
            if read_only:
                conn = await conn.execution_options(pta_read_only=True)
            async with conn.begin():
                yield SqlaDb(conn)

    return transaction


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """JSON columns as SQLAlchemy's asyncpg dialect sets them up: SQLAlchemy serialises the
    value, the codec decodes results."""
    async with conn.transaction():  # its type lookup stays on one PgBouncer server connection
        await conn.set_type_codec(
            "json", encoder=str.encode, decoder=orjson.loads, schema="pg_catalog", format="binary"
        )


async def _reset(conn: asyncpg.Connection) -> None:
    """Our transactions always end before a connection goes back: skip asyncpg's reset round
    trip, unless something was left open (then roll it back)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")
