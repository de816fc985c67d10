"""Small SQL helpers that differ between PostgreSQL and SQLite. Statements are built once per
shape (cached builders, values as bind parameters), so PostgreSQL runs each as a prepared
statement and SQLAlchemy's compiled cache serves SQLite."""

from __future__ import annotations

from typing import Any
from typing import cast as cast_type

from sqlalchemy import ARRAY, ColumnElement, Date, Integer, any_, bindparam, cast, func
from sqlalchemy.dialects import postgresql, sqlite


def upsert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """``INSERT … ON CONFLICT`` for the database (both speak the same dialect)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def days_between(dialect: str, later: Any, earlier: Any) -> Any:
    """Whole days from one date column to another, on either database."""
    if dialect == "postgresql":
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def month_start(dialect: str, day: Any) -> Any:
    """The first day of the month a date column falls in."""
    if dialect == "postgresql":
        return cast(func.date_trunc("month", day), Date)
    return func.date(day, "start of month")


def in_list(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """``column`` is one of the list passed as parameter ``name``: ``= ANY($n)`` (one
    prepared statement whatever the length) on PostgreSQL, an expanding IN on SQLite."""
    if dialect == "postgresql":
        condition = column == any_(bindparam(name, type_=ARRAY(column.type)))
    else:
        condition = column.in_(bindparam(name, expanding=True))
    return cast_type(ColumnElement[bool], condition)
