"""``pta report funnel``: the funnel table, computed by the API's own report."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cli.common import print_validation_errors, run_in_transaction
from app.config import Settings
from app.db import SqlaDb
from app.schemas.reports import FunnelQuery, FunnelReport
from app.services import exports, funnel_report, users


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="reports").add_subparsers(
        dest="report", required=True
    )
    funnel = report.add_parser(
        "funnel", help="the funnel table, as GET /api/v1/reports/funnel computes it"
    )
    funnel.add_argument("--from", dest="from_", help="first day (YYYY-MM-DD; programme start)")
    funnel.add_argument("--to", help="last day (YYYY-MM-DD; today)")
    funnel.add_argument(
        "--basis",
        choices=["cumulative", "cohort"],
        default="cumulative",
        help="cumulative: what happened in the period; cohort: what became of the cases "
        "identified in it (default: cumulative)",
    )
    funnel.add_argument("--as-of", help="cohort: reached by this day (YYYY-MM-DD; today)")
    funnel.add_argument("--origin-country", help="ISO 3166-1 alpha-3")
    funnel.add_argument("--resettlement-country", help="cases with a submission to it")
    funnel.add_argument("--transit-country", help="cases with a stay in it")
    funnel.add_argument(
        "--group-by",
        choices=["month", "quarter", "year", "origin_country", "resettlement_country"],
        help="one row group per period or country",
    )
    funnel.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table (default), csv (as the API's, HXL-tagged) or json (as the API's)",
    )
    funnel.set_defaults(handler=cmd_report_funnel, needs_schema=True)


def cmd_report_funnel(args: argparse.Namespace, settings: Settings) -> int:
    """The same report as the API (same validation, same query), printed."""
    given = {
        "from": args.from_,
        "to": args.to,
        "basis": args.basis,
        "as_of": args.as_of,
        "origin_country": args.origin_country,
        "resettlement_country": args.resettlement_country,
        "transit_country": args.transit_country,
        "group_by": args.group_by,
    }
    try:
        query = FunnelQuery.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        return print_validation_errors(error)

    async def compute(conn: AsyncConnection) -> FunnelReport:
        return await funnel_report.funnel(SqlaDb(conn), users.REPORTER, query)

    report = run_in_transaction(settings, compute)
    if args.format == "json":
        print(report.model_dump_json(by_alias=True, indent=2))
    elif args.format == "csv":
        sys.stdout.write(exports.funnel_csv(report))
    else:
        print(exports.funnel_table(report))
    return 0
