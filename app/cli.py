"""The ``pta`` command: serve, migrate, manage users (and, later, demo data and reports)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import logs, migrate
from app.config import ConfigurationError, Settings, get_settings
from app.db import SqlaDb, make_engine
from app.errors import DomainError
from app.schemas.reports import FunnelQuery, FunnelReport
from app.schemas.users import UserCreate
from app.services import exports, reports, users
from app.vocabulary import Role

log = logging.getLogger("pta.cli")
T = TypeVar("T")


def _prepare(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def run_in_transaction(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run one unit of work in one transaction, as a request would."""

    async def main() -> T:
        engine = make_engine(settings.database_url, settings, pool_size=2)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import uvicorn

    logs.capture_everything()  # stray prints and tracebacks become JSON lines too
    if settings.is_sqlite and settings.sqlite_path() is None:
        raise ConfigurationError("pta serve needs a database file or server, not :memory:")
    settings.signing_key()  # refuse to start with a missing or short key, before migrating
    _prepare(settings)
    log.info("migrating the database to the newest schema")
    migrate.upgrade(settings)
    # Every worker's request metrics go to prometheus-client's multiprocess files, so that any
    # worker's /metrics counts them all: a fresh directory per run (or the operator's, emptied).
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir = Path(given or tempfile.mkdtemp(prefix="pta-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    where = {"host": args.host, "port": args.port, "workers": args.workers}
    log.info("serving", extra={**where, "metrics_dir": str(metrics_dir)})
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=logs.uvicorn_log_config(settings.log_level),
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=20,  # in-flight requests finish after SIGTERM
            timeout_keep_alive=75,  # longer than the usual proxy idle timeout (60 s)
        )
    finally:
        if not given:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    _prepare(settings)
    migrate.upgrade(settings)
    log.info("database at the newest schema", extra={"revision": migrate.head_revision(settings)})
    return 0


def cmd_db_current(_args: argparse.Namespace, settings: Settings) -> int:
    async def current(conn: AsyncConnection) -> str | None:
        try:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
        except Exception:  # no table yet: an empty database
            return None
        return result.scalar()

    revision = run_in_transaction(settings, current)
    head = migrate.head_revision(settings)
    print(f"current: {revision or 'none (empty database)'}; newest: {head}")
    return 0


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (at least 12 characters): ")
    try:
        data = UserCreate(
            username=args.username, password=password, role=args.role, country=args.country
        )
    except ValidationError as error:
        for problem in error.errors(include_input=False):
            print(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 2

    async def create(conn: AsyncConnection) -> dict[str, Any]:
        return await users.create_user(SqlaDb(conn), users.OPERATOR, data, datetime.now(UTC))

    user = run_in_transaction(settings, create)
    log.info("user created", extra={"user_id": str(user["id"]), "role": user["role"]})
    print(user["id"])
    return 0


DEMO_DESCRIPTION = """\
Load the synthetic demo data set: households from El Salvador, Honduras and Guatemala
identified since July 2016, submitted to the USA, Canada, Australia, Brazil and Uruguay, most
through transit in Costa Rica, some still in progress today. Between 2016-01-01 and 2019-09-30
it reproduces the programme's published figures exactly: 3,757 people identified, 1,746
submitted, 689 resettled. One seed gives the same cases, members and dates (ids and
passwords aside): the cases of that window whatever the day, the later ones (up to yesterday)
on the same day. Every case goes through the service's own create and transition functions,
so its history (events) is real.

It also creates one demo user per role, named demo_<role> (officers: one per country, e.g.
demo_resettlement_officer_can and demo_transit_officer_cri), with new random passwords that
are printed once; demo users that exist already get new passwords.

A database that already holds cases is refused (exit status 1) unless --force, which DELETES
EVERY CASE (with its members, submissions, stays and events) before loading, so that the
figures come out exactly again. Users and the access log are kept."""


def cmd_demo_load(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import demo

    _prepare(settings)
    head = migrate.head_revision(settings)

    async def main() -> demo.Loaded | str | None:
        engine = demo.loader_engine(settings)
        try:
            async with engine.connect() as conn:
                try:
                    revision = (
                        await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar()
                except Exception:  # no table yet: an empty database
                    revision = None
            if revision != head:
                return "schema"
            async with engine.begin() as conn:
                db = SqlaDb(conn)
                if args.if_empty and await demo.count_cases(db):
                    return None
                print("Loading the demo data (about half a minute)...", flush=True)
                now = datetime.now(UTC)
                return await demo.load(
                    db, seed=args.seed, today=now.date(), now=now, replace=args.force
                )
        finally:
            await engine.dispose()

    loaded = asyncio.run(main())
    if loaded == "schema":
        print(
            "error: the database is not at the newest schema: run `pta db upgrade` first",
            file=sys.stderr,
        )
        return 2
    if not isinstance(loaded, demo.Loaded):
        path = settings.sqlite_path()
        again = f"rm {path}*" if path is not None else "pta demo load --force"
        print(
            "The database already holds cases: the demo data was loaded at first start (its "
            f"passwords were printed then). To start over: {again}"
        )
        return 0
    log.info(
        "demo data loaded",
        extra={
            "seed": args.seed,
            "cases": loaded.cases,
            "actions": loaded.actions,
            "seconds": round(loaded.seconds, 1),
        },
    )
    if loaded.replaced:
        print(f"Deleted the {loaded.replaced:,} cases the database held (--force).")
    print(
        f"Loaded the demo data (seed {args.seed}): {loaded.cases:,} cases, {loaded.people:,} "
        f"people, {loaded.actions:,} actions, in {loaded.seconds:.0f} s.\n"
        "Demo users (the passwords are shown only this once):\n"
    )
    print(demo.users_table(loaded.users))
    print(
        "\nSign in at http://127.0.0.1:8000/docs (the Authorize button) with one of these "
        "usernames and passwords."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pta", description="PTA case service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(
        handler=cmd_db_upgrade
    )
    db.add_parser("current", help="show the schema revision").set_defaults(handler=cmd_db_current)

    user_commands = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True
    )
    create = user_commands.add_parser("create", help="create a user; prints its id last")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--country", help="ISO 3166-1 alpha-3, for officers")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=cmd_users_create)

    demo = commands.add_parser("demo", help="synthetic demo data").add_subparsers(
        dest="demo", required=True
    )
    load = demo.add_parser(
        "load",
        help="load the demo data set and the demo users",
        description=DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("--seed", type=int, default=2016, help="random seed (default: 2016)")
    once = load.add_mutually_exclusive_group()
    once.add_argument(
        "--force",
        action="store_true",
        help="delete every case the database holds first, then load",
    )
    once.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into a database without cases; otherwise say so and exit 0",
    )
    load.set_defaults(handler=cmd_demo_load)

    report = commands.add_parser("report", help="reports").add_subparsers(
        dest="report", required=True
    )
    funnel = report.add_parser(
        "funnel", help="the funnel table, as GET /api/v1/reports/funnel computes it"
    )
    funnel.add_argument("--from", dest="from_", help="first day (YYYY-MM-DD; programme start)")
    funnel.add_argument("--to", help="last day (YYYY-MM-DD; today)")
    funnel.add_argument("--basis", choices=["cumulative", "cohort"], default="cumulative")
    funnel.add_argument("--as-of", help="cohort: reached by this day (YYYY-MM-DD; today)")
    funnel.add_argument("--origin-country", help="ISO 3166-1 alpha-3")
    funnel.add_argument("--resettlement-country", help="cases with a submission to it")
    funnel.add_argument("--transit-country", help="cases with a stay in it")
    funnel.add_argument(
        "--group-by", choices=["month", "quarter", "year", "origin_country", "resettlement_country"]
    )
    funnel.add_argument("--format", choices=["table", "csv", "json"], default="table")
    funnel.set_defaults(handler=cmd_report_funnel)
    return parser


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
        for problem in error.errors(include_input=False):
            print(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 2

    async def compute(conn: AsyncConnection) -> FunnelReport:
        return await reports.funnel(SqlaDb(conn), users.REPORTER, query)

    report = run_in_transaction(settings, compute)
    if args.format == "json":
        print(report.model_dump_json(by_alias=True, indent=2))
    elif args.format == "csv":
        sys.stdout.write(exports.funnel_csv(report))
    else:
        print(exports.funnel_table(report))
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
