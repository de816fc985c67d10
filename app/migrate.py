"""Schema migrations (Alembic), callable from the CLI, the server start and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.config import Settings


def _project_root() -> Path:
    """Where ``migrations/`` is: beside the source tree, or the working directory (the
    container installs the package and keeps the migrations in its working directory)."""
    for candidate in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (candidate / "migrations" / "env.py").is_file():
            return candidate
    raise FileNotFoundError("migrations/ not found beside the package or in the working directory")


ROOT = _project_root()


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
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
