"""``pta db``: the database schema."""

from __future__ import annotations

import argparse

from app import migrate
from app.cli.common import log, prepare, run_in_transaction
from app.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(
        handler=cmd_db_upgrade
    )
    db.add_parser("current", help="show the schema revision").set_defaults(handler=cmd_db_current)


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    prepare(settings)
    migrate.upgrade(settings)
    log.info("database at the newest schema", extra={"revision": migrate.head_revision(settings)})
    return 0


def cmd_db_current(_args: argparse.Namespace, settings: Settings) -> int:
    revision = run_in_transaction(settings, migrate.current_revision)
    head = migrate.head_revision(settings)
    print(f"current: {revision or 'none (empty database)'}; newest: {head}")
    return 0
