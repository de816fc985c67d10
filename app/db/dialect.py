"""The SQL that differs between PostgreSQL and SQLite, as one object per database (``Db.dialect``)
instead of a name compared in every service. Statements are built once per shape (cached
builders take the dialect as part of their key, values come as bind parameters), so
PostgreSQL runs each as a prepared statement and SQLAlchemy's compiled cache serves SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import cast as cast_type

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Date,
    Integer,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite


@dataclass(frozen=True)
class SqlDialect:
    name: str

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    def upsert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """``INSERT … ON CONFLICT`` for the database (both speak the same dialect)."""
        return postgresql.insert(table) if self.is_postgresql else sqlite.insert(table)

    def days_between(self, later: Any, earlier: Any) -> Any:
        """Whole days from one date column to another."""
        if self.is_postgresql:
            return later - earlier
        return cast(func.julianday(later) - func.julianday(earlier), Integer)

    def month_start(self, day: Any) -> Any:
        """The first day of the month a date column falls in."""
        if self.is_postgresql:
            return cast(func.date_trunc("month", day), Date)
        return func.date(day, "start of month")

    def random_uuid(self) -> Any:
        """A new random UUID made by the database (for rows an INSERT … SELECT writes)."""
        if self.is_postgresql:
            return func.gen_random_uuid()
        return func.lower(func.hex(func.randomblob(16)))  # the 32 hex digits of Uuid on SQLite
    def year_start(self, day: Any) -> Any:
        """1 January of the year a date column falls in."""
        if self.is_postgresql:
            return cast(func.date_trunc("year", day), Date)
        return func.date(day, "start of year")

    def sha256_hex(self, text: Any) -> Any:
        """The SHA-256 of a text expression's UTF-8 bytes, as 64 lowercase hex digits (on
        SQLite a function each connection registers: ``engine.configure_sqlite``)."""
        if self.is_postgresql:
            utf8 = func.convert_to(text, literal_column("'UTF8'"))
            return func.encode(func.sha256(utf8), literal_column("'hex'"))
        return func.pta_sha256(text)

    def next_id(self, column: Any) -> Any:
        """The id the next row of ``column``'s table gets: its sequence's next value on
        PostgreSQL; on SQLite, whose one writer at a time numbers rows max + 1, the same."""
        if self.is_postgresql:
            sequence = f"'{column.table.name}_{column.name}_seq'"
            return func.nextval(literal_column(sequence))
        return select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()

    def in_list(self, column: Any, name: str) -> ColumnElement[bool]:
        """``column`` is one of the list passed as parameter ``name``: ``= ANY($n)`` (one
        prepared statement whatever the length) on PostgreSQL, an expanding IN on SQLite."""
        if self.is_postgresql:
            condition = column == any_(bindparam(name, type_=ARRAY(column.type)))
        else:
            condition = column.in_(bindparam(name, expanding=True))
        return cast_type(ColumnElement[bool], condition)


POSTGRESQL = SqlDialect("postgresql")
SQLITE = SqlDialect("sqlite")


def dialect_named(name: str) -> SqlDialect:
    if name == "postgresql":
        return POSTGRESQL
    if name == "sqlite":
        return SQLITE
    raise ValueError(f"unsupported database {name!r}")
