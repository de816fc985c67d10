"""The ``pta`` command, one module per command group: serve, db, users, demo, report,
webhooks, audit, retention."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from pydantic import ValidationError

from app import logs
from app.cli import audit, db, demo, report, retention, serve, users, webhooks
from app.cli.common import database_problem, log, plain_message, require_schema
from app.config import ConfigurationError, Settings, get_settings, misspelt_variables
from app.errors import DomainError

COMMAND_GROUPS = (serve, db, users, demo, report, webhooks, audit, retention)


def _version() -> str:
    try:
        return version("pta-case-service")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pta", description="PTA case service")
    parser.add_argument("--version", action="version", version=f"pta {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Whatever stops it is one line (what is wrong, what to do) and exit
    status 2 — a JSON log line with the reason under ``pta serve``, plain text otherwise;
    a refusal of the service's rules is exit status 1; only a bug keeps its traceback."""
    args = build_parser().parse_args(argv)
    serving = args.command == "serve"
    logs.configure("INFO")

    def say(level: str, reason: str, message: str = "configuration refused") -> None:
        if serving:
            if level == "error":
                log.error(message, extra={"reason": reason})
            else:
                log.warning("configuration", extra={"reason": reason})
        else:
            print(f"{level}: {reason}", file=sys.stderr)

    for given, known in misspelt_variables():
        say("warning", f"{given} is not a setting and is ignored: did you mean {known}?")
    try:
        settings = get_settings()
    except ValidationError as error:
        for problem in error.errors(include_input=False):
            say("error", plain_message(problem, prefix="PTA_"))
        return 2
    logs.configure(settings.log_level)
    try:
        if getattr(args, "needs_schema", False):
            require_schema(settings)
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings)
    except ConfigurationError as error:
        say("error", str(error))
        return 2
    except DomainError as error:
        log.error("refused", extra={"code": error.code, "reason": error.detail})
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    except Exception as error:
        reason = database_problem(error, settings.database_url)
        if reason is None:
            raise
        say("error", reason, "database unusable")
        return 2
