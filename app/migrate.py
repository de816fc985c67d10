"""Schema migrations (Alembic), callable from the CLI, the server start and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.models.member_key import SQLITE_WORDS_INDEX


def comparison(dialect: str) -> dict[str, Any]:
    """Alembic's options for comparing the database with the models: everything but SQLite's
    full-text index of the member keys (an FTS5 table and its shadow tables, made by
    migration 0009) and an index the models keep for the other database."""

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        fts = name == SQLITE_WORDS_INDEX or (name or "").startswith(f"{SQLITE_WORDS_INDEX}_")
        return not (type_ == "table" and fts)

    def include_object(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        only = obj.info.get("only") if type_ == "index" else None
        return only in (None, dialect)

    return {"include_name": include_name, "include_object": include_object}


def project_root(settings: Settings) -> Path:
    """The folder holding ``migrations/``: PTA_MIGRATIONS_DIR's parent, the source tree, or the
    working directory (the container installs the package and works where they are)."""
    candidates = [Path(__file__).resolve().parent.parent, Path.cwd()]
    if settings.migrations_dir is not None:
        candidates.insert(0, settings.migrations_dir.resolve().parent)
    for candidate in candidates:
        if (candidate / "migrations" / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        "migrations/ not found: set PTA_MIGRATIONS_DIR or run from the project directory"
    )


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    config = Config()  # alembic.ini is for running `alembic` by hand; nothing here needs it
    config.set_main_option("script_location", str(project_root(settings) / "migrations"))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = url or settings.database_url
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, url: str | None = None, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creates the SQLite file if needed). Not callable
    from inside a running event loop (Alembic's env runs its own)."""
    command.upgrade(alembic_config(settings, url), revision)


def downgrade(settings: Settings, url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings, url), revision)


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def current_revision(conn: AsyncConnection) -> str | None:
    """The schema revision the database is at; None for a database without Alembic's table
    (an empty one). Any other failure (unreachable, refused) propagates to the caller."""
    has_table = await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
    if not has_table:
        return None
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar()
