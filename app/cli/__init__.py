"""The ``pta`` command, one module per command group: serve, db, users, demo, report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pydantic import ValidationError

from app import logs
from app.cli import db, demo, report, serve, users
from app.cli.common import log
from app.config import ConfigurationError, Settings, get_settings
from app.errors import DomainError

COMMAND_GROUPS = (serve, db, users, demo, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pta", description="PTA case service")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure("INFO")
    try:
        settings = get_settings()
    except ValidationError as error:
        reasons = [
            f"PTA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in error.errors(include_input=False)
        ]
        log.error("configuration refused", extra={"reason": "; ".join(reasons)})
        return 2
    logs.configure(settings.log_level)
    try:
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings)
    except ConfigurationError as error:
        log.error("configuration refused", extra={"reason": str(error)})
        return 2
    except DomainError as error:
        log.error("refused", extra={"code": error.code, "reason": error.detail})
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
