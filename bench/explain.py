"""Every filter combination an officer can use on ``GET /cases``, EXPLAINed on the benchmark
database (issue: each must be an index scan at 1 M cases on PostgreSQL).

The statements are the service's own (``app.services.cases.page_query``), compiled as the
service compiles them and run under ``EXPLAIN`` with real parameter values, first page and a
page after a cursor. Any sequential scan of ``cases``, ``submissions`` or ``transit_stays`` in
a plan is reported.

    .venv/bin/python -m bench.explain [--database pta_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.db import AsyncpgDb, Database
from app.schemas.cases import CaseFilters
from app.services.cases import page_params, page_query
from app.services.policy import OFFICER_FILTERS, Actor
from app.vocabulary import Role

BIG_TABLES = frozenset({"cases", "submissions", "transit_stays", "departure_requirements"})
#: The target is stated at this size: on a smaller database the planner may rightly prefer
#: scanning a small table, so the plans are listed but not judged.
JUDGED_FROM_CASES = 1_000_000
#: A value for each filter an officer may use (the benchmark's data holds them all); the
#: countries are the officers' own (another state's or country's would be an empty page).
VALUES: dict[str, Any] = {
    "stage": "submission",
    "status": "submitted",
    "origin_country": "SLV",
    "resettlement_country": "CAN",
    "transit_country": "CRI",
    "updated_since": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
    "requirements_overdue": True,
}
OFFICERS = {
    "resettlement officer CAN": Actor(uuid.UUID(int=1), "bench", Role.resettlement_officer, "CAN"),
    "transit officer CRI": Actor(uuid.UUID(int=2), "bench", Role.transit_officer, "CRI"),
}
#: UNHCR's overdue list (the supervisor's working list), alone and with each other filter.
UNHCR_OVERDUE = Actor(uuid.UUID(int=3), "bench", Role.supervisor)


@dataclass
class Outcome:
    cases: int = 0
    checked: int = 0
    seq_scans: list[str] = field(default_factory=list)


def _scans(plan: dict[str, Any]) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def check(url: str) -> Outcome:
    settings = Settings(database_url=url, secret_key="x" * 40)
    database = Database(url, settings)
    await database.start()
    outcome = Outcome()
    try:
        async with database.transaction(read_only=True) as db:
            if not isinstance(db, AsyncpgDb):
                raise SystemExit("bench.explain needs PostgreSQL")
            outcome.cases = await db.conn.fetchval("SELECT count(*) FROM cases")
            cursor = await db.conn.fetchval("SELECT id FROM cases ORDER BY id OFFSET 1000 LIMIT 1")
            combinations = [
                (who, actor, names)
                for (who, actor), size in itertools.product(
                    OFFICERS.items(), range(len(OFFICER_FILTERS) + 1)
                )
                for names in itertools.combinations(sorted(OFFICER_FILTERS), size)
            ] + [
                ("supervisor", UNHCR_OVERDUE, tuple(sorted({"requirements_overdue", other})))
                for other in OFFICER_FILTERS
            ]
            for who, actor, names in combinations:
                filters = CaseFilters.model_validate({n: VALUES[n] for n in names})
                for after in (None, cursor):
                    statement = page_query(db, actor, filters, after)
                    plan = db._plan(statement, None)
                    args = db._args(plan, page_params(actor, filters, after, 51))
                    result = await db.conn.fetchval("EXPLAIN (FORMAT JSON) " + plan.sql, *args)
                    tree = result[0]["Plan"]  # the pool decodes json itself
                    outcome.checked += 1
                    for table in _scans(tree):
                        where = "after a cursor" if after else "first page"
                        outcome.seq_scans.append(
                            f"{who}, {', '.join(names) or 'no filter'} ({where}): {table}"
                        )
    finally:
        await database.close()
    return outcome


def summary(outcome: Outcome) -> str:
    if outcome.cases < JUDGED_FROM_CASES:
        verdict = f"not judged (the target is at {JUDGED_FROM_CASES:,} cases)"
    else:
        verdict = "PASS" if not outcome.seq_scans else "MISS"
    head = (
        f"list queries at {outcome.cases:,} cases: {outcome.checked} plans (every filter "
        f"combination of both officers, UNHCR's overdue list, first page and after a cursor), "
        f"sequential scans of big tables: {len(outcome.seq_scans)} — index scans only: {verdict}"
    )
    return "\n".join([head, *(f"  seq scan: {line}" for line in outcome.seq_scans[:20])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pta_bench")
    args = parser.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    print(summary(asyncio.run(check(url))))


if __name__ == "__main__":
    main()
