"""The funnel's rollup equals a plain recount of the cases, after any mix of writes: new
cases, first and repeated submissions, refused and entered stays, arrivals, closures and
reopenings, and member lists replaced — before and after folding, and after a rebuild."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SqlaDb
from app.models import Case, Submission, TransitStay
from app.schemas.cases import CaseUpdate
from app.services import cases, funnel_rollup
from tests.factories import Factory, TestUser
from tests.timeline import Timeline, actor, household, moment

STAGES = {
    "identified": "identified_at",
    "submitted": "first_submitted_at",
    "in_transit": "transit_entered_at",
    "resettled": "resettled_at",
}


async def random_history(
    t: Timeline, users: dict[str, TestUser], engine: AsyncEngine, seed: int
) -> None:
    rng = random.Random(seed)
    for _ in range(30):
        day = date(2016, 7, 1) + timedelta(days=rng.randrange(0, 1500))

        def later(gap: int = 40) -> str:
            nonlocal day
            day += timedelta(days=rng.randrange(1, gap))
            return day.isoformat()

        origin = rng.choice(["SLV", "HND", "GTM"])
        via_transit = rng.random() < 0.6
        case_id = await t.create(
            day.isoformat(),
            rng.randint(1, 5),
            origin,
            pathway="transit" if via_transit else "in_country",
        )
        if rng.random() < 0.15:
            await t.act(users["boss"], case_id, "close", later(), reason="lost_contact")
            await t.act(users["boss"], case_id, "reopen", later(), reason="back in touch")
        if rng.random() < 0.2:
            continue
        await t.to_review(case_id, later())
        states = ["USA", "CAN", "AUS", "BRA", "URY"]
        rng.shuffle(states)
        await t.submit(case_id, later(), states[0])
        if rng.random() < 0.3:
            await t.act(
                users[states[0]], case_id, "decide", later(), decision="denied", reason="no"
            )
            await t.submit(case_id, later(), states[1], action="resubmit")
            states.pop(0)
        if rng.random() < 0.25:
            async with engine.begin() as conn:
                await cases.update_case(
                    SqlaDb(conn),
                    actor(users["worker"]),
                    case_id,
                    CaseUpdate.model_validate({"members": household(rng.randint(1, 6), origin)}),
                    f'"{(await conn.scalar(select(Case.version).where(Case.id == case_id)))}"',
                    moment(later()),
                )
        if via_transit:
            transit = rng.choice(["CRI", "PAN"])
            await t.act(
                users["worker"], case_id, "request_transit", later(), transit_country=transit
            )
            if rng.random() < 0.3:
                await t.act(users[transit], case_id, "refuse_transit", later(), reason="full")
                continue
            await t.act(users[transit], case_id, "authorise_transit", later())
            entered = later()
            await t.act(
                users[transit], case_id, "record_transit_entry", entered, entered_at=entered
            )
        if rng.random() < 0.5:
            await t.act(users[states[0]], case_id, "decide", later(), decision="accepted")
            departed = later()
            await t.act(
                users["worker"], case_id, "record_departure", departed, departed_at=departed
            )
            if rng.random() < 0.8:
                arrived = later(10)
                await t.act(users["boss"], case_id, "confirm_arrival", arrived, arrived_at=arrived)
        elif rng.random() < 0.3:
            await t.act(users["boss"], case_id, "close", later(), reason="withdrawn_by_applicant")


async def recount(engine: AsyncEngine, params: dict[str, str]) -> dict[str, Any]:
    """The reference: count straight from the case rows, in Python."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Case))).mappings().all()
        destinations: dict[Any, set[str]] = defaultdict(set)
        for case_id, country in await conn.execute(
            select(Submission.case_id, Submission.resettlement_country)
        ):
            destinations[case_id].add(country)
        transits: dict[Any, set[str]] = defaultdict(set)
        for case_id, country, status in await conn.execute(
            select(TransitStay.case_id, TransitStay.transit_country, TransitStay.status)
        ):
            if status != "refused":
                transits[case_id].add(country)
    start, end = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    totals = {stage: [0, 0] for stage in STAGES}
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: {s: [0, 0] for s in STAGES})
    for row in rows:
        if "origin_country" in params and row["origin_country"] != params["origin_country"]:
            continue
        if (
            "resettlement_country" in params
            and params["resettlement_country"] not in destinations[row["id"]]
        ):
            continue
        if "transit_country" in params and params["transit_country"] not in transits[row["id"]]:
            continue
        for stage, column in STAGES.items():
            day = row[column]
            if day is None or not start <= day <= end:
                continue
            totals[stage][0] += 1
            totals[stage][1] += row["member_count"]
            group = params.get("group_by")
            keys: list[str] = []
            if group == "year":
                keys = [str(day.year)]
            elif group == "quarter":
                keys = [f"{day.year}-Q{(day.month - 1) // 3 + 1}"]
            elif group == "origin_country":
                keys = [row["origin_country"]]
            elif group == "resettlement_country":
                chosen = params.get("resettlement_country")
                keys = sorted(d for d in destinations[row["id"]] if chosen in (None, d))
            for key in keys:
                groups[key][stage][0] += 1
                groups[key][stage][1] += row["member_count"]
    return {
        "stages": {s: tuple(v) for s, v in totals.items()},
        "groups": {k: {s: tuple(v) for s, v in g.items()} for k, g in groups.items()},
    }


def answer(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "stages": {s["stage"]: (s["cases"], s["people"]) for s in report["stages"]},
        "groups": {
            g["key"]: {s["stage"]: (s["cases"], s["people"]) for s in g["stages"]}
            for g in report["groups"]
            if any(s["cases"] or s["people"] for s in g["stages"])
        },
    }


QUERIES = [
    {"from": "2016-01-01", "to": "2026-01-01"},
    {"from": "2017-03-15", "to": "2018-09-30"},
    {"from": "2016-08-10", "to": "2019-05-17", "group_by": "quarter"},
    {"from": "2018-02-03", "to": "2018-02-20"},
    {"from": "2016-01-01", "to": "2026-01-01", "group_by": "year"},
    {"from": "2016-01-01", "to": "2026-01-01", "group_by": "origin_country"},
    {"from": "2016-01-01", "to": "2026-01-01", "group_by": "resettlement_country"},
    {"from": "2016-01-01", "to": "2026-01-01", "resettlement_country": "USA"},
    {
        "from": "2016-01-01",
        "to": "2026-01-01",
        "resettlement_country": "CAN",
        "group_by": "resettlement_country",
    },
    {"from": "2016-01-01", "to": "2026-01-01", "transit_country": "CRI", "origin_country": "HND"},
    {"from": "2017-01-01", "to": "2019-12-31", "transit_country": "PAN", "group_by": "year"},
]


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollup_equals_recount(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine, seed: int
) -> None:
    users = {
        "worker": await make.user("caseworker"),
        "boss": await make.user("supervisor"),
        "manager": await make.user("manager"),
        **{
            c: await make.user("resettlement_officer", c)
            for c in ("USA", "CAN", "AUS", "BRA", "URY")
        },
        **{c: await make.user("transit_officer", c) for c in ("CRI", "PAN")},
    }
    await random_history(Timeline(engine, users["worker"], users["boss"]), users, engine, seed)

    async def check() -> None:
        for params in QUERIES:
            response = await client.get(
                "/api/v1/reports/funnel", params=params, headers=users["manager"].headers
            )
            assert response.status_code == 200, response.text
            assert answer(response.json()) == await recount(engine, params), params

    await check()  # deltas only
    async with engine.begin() as conn:
        assert await funnel_rollup.fold(SqlaDb(conn)) > 0
    await check()  # folded
    async with engine.begin() as conn:
        await funnel_rollup.rebuild(SqlaDb(conn))
    await check()  # rebuilt from scratch


async def test_workers_fold_deltas_in_the_background(
    migrated: Any, engine: AsyncEngine, make: Factory
) -> None:
    import asyncio

    from sqlalchemy import func

    from app.main import create_app
    from app.models import FunnelDelta, FunnelRollup

    worker = await make.user("caseworker")
    boss = await make.user("supervisor")
    await Timeline(engine, worker, boss).create("2019-05-05", 3)
    app = create_app(migrated.model_copy(update={"funnel_fold_seconds": 0.1}))
    async with app.router.lifespan_context(app):
        for _ in range(50):
            await asyncio.sleep(0.1)
            async with engine.connect() as conn:
                if await conn.scalar(select(func.count()).select_from(FunnelDelta)) == 0:
                    break
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(FunnelDelta)) == 0
        daily = select(func.sum(FunnelRollup.people)).where(FunnelRollup.grain == "d")
        assert await conn.scalar(daily) == 3
