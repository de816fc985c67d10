"""``pta retention apply [--dry-run]``: erase what the retention rule says (domain.md)."""

from __future__ import annotations

import argparse

from app.cli.common import log, run_with_engine
from app.config import Settings
from app.schemas.common import today
from app.services import retention


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("retention", help="erasure of old cases").add_subparsers(
        dest="retention", required=True
    )
    apply = group.add_parser(
        "apply",
        help="erase the cases resettled or closed more than PTA_RETENTION_DAYS days ago "
        "(not on legal hold), one case per transaction",
    )
    apply.add_argument(
        "--dry-run", action="store_true", help="print how many and which, change nothing"
    )
    apply.set_defaults(handler=cmd_retention_apply, needs_schema=True)


def cmd_retention_apply(args: argparse.Namespace, settings: Settings) -> int:
    days = settings.retention_days
    outcome = run_with_engine(
        settings,
        lambda engine: retention.apply(engine, today(), days, dry_run=args.dry_run),
    )
    if args.dry_run:
        print(f"would erase {len(outcome.references):,} cases")
        for reference in outcome.references:
            print(reference)
        return 0
    log.info("retention applied", extra={"cases_erased": outcome.erased})
    print(f"erased {outcome.erased:,} cases")
    return 0
