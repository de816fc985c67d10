"""The database: engines (``engine``) and the runners every service uses (``runner``)."""

from app.db.dialect import POSTGRESQL, SQLITE, SqlDialect
from app.db.engine import SQLITE_BUSY_TIMEOUT_MS, configure_sqlite, driver_url, make_engine
from app.db.runner import (
    CONNECTION_IN_DOUBT,
    AsyncpgDb,
    Database,
    Db,
    Params,
    Record,
    Row,
    SqlaDb,
    Transactions,
    engine_transactions,
)

__all__ = [
    "CONNECTION_IN_DOUBT",
    "POSTGRESQL",
    "SQLITE",
    "SQLITE_BUSY_TIMEOUT_MS",
    "AsyncpgDb",
    "Database",
    "Db",
    "Params",
    "Record",
    "Row",
    "SqlDialect",
    "SqlaDb",
    "Transactions",
    "configure_sqlite",
    "driver_url",
    "engine_transactions",
    "make_engine",
]
