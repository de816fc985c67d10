"""``pta demo load``: the synthetic demo data set and the demo users."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from app.cli.common import log, public_url
from app.config import Settings
from app.demo import loader as demo


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    load = (
        commands.add_parser("demo", help="synthetic demo data")
        .add_subparsers(dest="demo", required=True)
        .add_parser(
            "load",
            help="load the demo data set and the demo users",
            description=DEMO_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
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
    load.set_defaults(handler=cmd_demo_load, needs_schema=True)


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
    loaded = asyncio.run(_load(args, settings))
    if loaded is None:
        path = settings.sqlite_path()
        again = f"rm {path}*" if path is not None else "pta demo load --force"
        print(
            "The database already holds cases: the demo data was loaded at first start (its "
            f"passwords were printed then). To start over: {again}"
        )
        return 0
    _report(args, settings, loaded)
    return 0


async def _load(args: argparse.Namespace, settings: Settings) -> demo.Loaded | None:
    """The demo data in one transaction; None when --if-empty finds cases already."""
    async with demo.loader_transaction(settings) as db:
        if args.if_empty and await demo.count_cases(db):
            return None
        print("Loading the demo data (about half a minute)...", flush=True)
        now = datetime.now(UTC)
        return await demo.load(
            db,
            seed=args.seed,
            today=now.date(),
            now=now,
            replace=args.force,
            checklist=settings.departure_requirements,
        )


def _report(args: argparse.Namespace, settings: Settings, loaded: demo.Loaded) -> None:
    """What was loaded, and the demo users' passwords, printed once."""
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
    if loaded.registered_twice:
        print(
            "\nPeople registered twice, for possible duplicates (GET /api/v1/cases/{id}/"
            f"possible-duplicates, or search q=<reference>): {', '.join(loaded.registered_twice)}"
        )
    print(
        f"\nSign in at {public_url(settings)}/docs (the Authorize button) or "
        f"{public_url(settings)}/dashboard with one of these usernames and passwords."
    )
