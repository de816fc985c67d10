"""The funnel's rollup equals a plain recount — cases from the case rows, people from the
member rows' own milestone dates — after any mix of writes: new cases, first and repeated
submissions, refused and entered stays, arrivals, closures and reopenings, member lists
edited by id (members kept, removed and added), split decisions resolved by split_case and
the new cases' own lives — before and after folding, and after a rebuild; cumulative funnels
and random cohorts (ends and ``as_of`` next to the days cases were identified or moved on,
medians of days included), those the cohort rows answer and those counted from the cases. A
split never changes a people count of the whole programme: checked against the figures just
before it."""

from __future__ import annotations

import random
import statistics
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SqlaDb
from app.models import Case, Member, Submission, TransitStay
from app.schemas.cases import CaseUpdate
from app.schemas.common import today
from app.services import cases, funnel_rollup
from tests.factories import Factory, TestUser
from tests.timeline import Timeline, actor, household, moment

STAGES = {
    "identified": "identified_at",
    "submitted": "first_submitted_at",
    "in_transit": "transit_entered_at",
    "resettled": "resettled_at",
}


async def edit_members(
    engine: AsyncEngine, users: dict[str, TestUser], case_id: Any, rng: random.Random, day: str
) -> None:
    """PATCH the member list by id: the principal kept (a field corrected), others kept or
    removed at random, new members added."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(Member).where(Member.case_id == case_id).order_by(Member.position)
            )
        ).mappings()
        kept = [
            {**{k: row[k] for k in FIELDS}, "id": str(row["id"]), "date_of_birth": "1990-02-03"}
            for row in rows
            if row["is_principal"] or rng.random() < 0.6
        ]
        kept[0]["given_name"] = "Corrected"
        origin = await conn.scalar(select(Case.origin_country).where(Case.id == case_id))
        assert origin is not None
        added = household(rng.randint(0, 2) + 1, origin)[1:]
        version = await conn.scalar(select(Case.version).where(Case.id == case_id))
        await cases.update_case(
            SqlaDb(conn),
            actor(users["worker"]),
            case_id,
            CaseUpdate.model_validate({"members": kept + added}),
            f'"{version}"',
            moment(day),
        )


FIELDS = (
    "is_principal",
    "given_name",
    "family_name",
    "sex",
    "nationality",
    "relationship",
)


async def member_ids(engine: AsyncEngine, case_id: Any) -> tuple[Any, list[Any]]:
    """The principal's id and the other members' ids."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Member.id, Member.is_principal)
                .where(Member.case_id == case_id)
                .order_by(Member.position)
            )
        ).all()
    principal = next(i for i, p in rows if p)
    return principal, [i for i, p in rows if not p]


async def random_history(
    t: Timeline, users: dict[str, TestUser], engine: AsyncEngine, seed: int, check: Any = None
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
        if rng.random() < 0.25:  # the set of members is fixed while submitted: withdraw
            await t.act(users["boss"], case_id, "withdraw_submission", later(), reason="error")
            await edit_members(engine, users, case_id, rng, later())
            await t.submit(case_id, later(), states[1])  # back in review after the withdrawal
            states.pop(0)
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
            principal, others = await member_ids(engine, case_id)
            if others and rng.random() < 0.6:
                left_out = rng.sample(others, rng.randint(1, len(others)))
                accepted = [principal] + [i for i in others if i not in left_out]
                await t.act(
                    users[states[0]],
                    case_id,
                    "decide",
                    later(),
                    decision="accepted",
                    accepted_members=[str(i) for i in accepted],
                )
                before = await check() if check is not None else None
                split_day = later()
                record = await t.act(
                    users["boss"],
                    case_id,
                    "split_case",
                    split_day,
                    members=[str(i) for i in left_out],
                    principal=str(left_out[0]),
                    reason="The state accepted part of the household",
                )
                if check is not None:
                    assert await check() == before, "a split changed a people count"
                await new_case_life(t, users, rng, (record.case["split_into"] or [])[-1], split_day)
            else:
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


async def new_case_life(
    t: Timeline, users: dict[str, TestUser], rng: random.Random, case_id: str, day: str
) -> None:
    """A case made by a split: reviewed, submitted elsewhere, perhaps accepted and resettled."""
    current = date.fromisoformat(day)

    def later() -> str:
        nonlocal current
        current += timedelta(days=rng.randrange(1, 30))
        return current.isoformat()

    new_id = uuid.UUID(case_id)
    if rng.random() < 0.3:
        return
    await t.act(users["worker"], new_id, "request_review", later())
    state = rng.choice(["AUS", "BRA"])
    await t.submit(new_id, later(), state)
    if rng.random() < 0.5:
        return
    await t.act(users[state], new_id, "decide", later(), decision="accepted")
    if rng.random() < 0.5:  # an in-country departure is not possible on the transit pathway
        await t.act(users["boss"], new_id, "close", later(), reason="other")
        await t.act(users["boss"], new_id, "reopen", later(), reason="back in touch")


def _keys(
    group: str | None, day: date, origin: str, destinations: set[str], chosen: Any
) -> list[str]:
    if group == "year":
        return [str(day.year)]
    if group == "month":
        return [f"{day.year}-{day.month:02d}"]
    if group == "quarter":
        return [f"{day.year}-Q{(day.month - 1) // 3 + 1}"]
    if group == "origin_country":
        return [origin]
    if group == "resettlement_country":
        return sorted(d for d in destinations if chosen in (None, d))
    return []


async def recount(engine: AsyncEngine, params: dict[str, str]) -> dict[str, Any]:
    """The reference: cases straight from the case rows, people from the member rows' own
    milestone dates (each as a member of the case it belongs to now), in Python. A cohort
    counts the cases and people identified in the window that reached each stage by
    ``as_of``, with the median days the cases took."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Case))).mappings().all()
        members: dict[Any, list[Any]] = defaultdict(list)
        for member_row in (await conn.execute(select(Member))).mappings().all():
            members[member_row["case_id"]].append(member_row)
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
    cohort = params.get("basis") == "cohort"
    as_of = date.fromisoformat(params["as_of"]) if "as_of" in params else today()
    if not cohort:
        end = min(end, as_of)
    # stage -> [cases, people, the days each case took]
    totals: dict[str, list[Any]] = {stage: [0, 0, []] for stage in STAGES}
    groups: dict[str, dict[str, list[Any]]] = defaultdict(lambda: {s: [0, 0, []] for s in STAGES})
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
        # (what counts: 0 a case, 1 a person) on a day, for each stage
        units = [(0, row)] + [(1, m) for m in members[row["id"]]]
        for stage, column in STAGES.items():
            for what, unit in units:
                day = unit[column]
                if day is None:
                    continue
                counted_by = unit["identified_at"] if cohort else day
                if not start <= counted_by <= end or (cohort and day > as_of):
                    continue
                keys = _keys(
                    params.get("group_by"),
                    counted_by,
                    row["origin_country"],
                    destinations[row["id"]],
                    params.get("resettlement_country"),
                )
                for tally in [totals[stage]] + [groups[key][stage] for key in keys]:
                    tally[what] += 1
                    if what == 0:
                        tally[2].append((day - unit["identified_at"]).days)

    def counted(tally: list[Any]) -> tuple[int, int, float | None]:
        median = float(statistics.median(tally[2])) if cohort and tally[2] else None
        return tally[0], tally[1], median

    return {
        "stages": {s: counted(v) for s, v in totals.items()},
        "groups": {k: {s: counted(v) for s, v in g.items()} for k, g in groups.items()},
    }


def answer(report: dict[str, Any]) -> dict[str, Any]:
    def stage(s: dict[str, Any]) -> tuple[int, int, float | None]:
        return s["cases"], s["people"], s["median_days"]

    return {
        "stages": {s["stage"]: stage(s) for s in report["stages"]},
        "groups": {
            g["key"]: {s["stage"]: stage(s) for s in g["stages"]}
            for g in report["groups"]
            if any(s["cases"] or s["people"] for s in g["stages"])
        },
    }


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def cohort_queries(
    rng: random.Random, count: int, identified: list[date], reached: list[date]
) -> list[dict[str, str]]:
    """Random cohorts whose ends lie a day inside of days cases were identified and whose
    ``as_of`` lies a day before a day a stage was reached — each perhaps moved to a whole
    month (``as_of`` to the end of a month or to today: when all three are, the rollup
    answers) — with any filter or grouping a manager may ask for."""
    queries = []
    for _ in range(count):
        first, last = sorted(rng.sample(identified, 2))
        start, end = first + timedelta(days=1), last - timedelta(days=1)
        if start > end:
            start, end = first, last
        if rng.random() < 0.6:
            start = start.replace(day=1)
        if rng.random() < 0.6:
            end = _month_end(end)
        as_of = rng.choice(reached) - timedelta(days=1)
        as_of = rng.choice([as_of, _month_end(as_of), today()])
        query = {
            "basis": "cohort",
            "from": start.isoformat(),
            "to": end.isoformat(),
            "as_of": min(as_of, today()).isoformat(),
        }
        extra = rng.choice(
            [
                {},
                {"origin_country": rng.choice(["SLV", "HND", "GTM"])},
                {"group_by": rng.choice(["month", "quarter", "year", "origin_country"])},
                {"group_by": "resettlement_country"},
                {"resettlement_country": rng.choice(["USA", "CAN", "AUS", "BRA"])},
                {"transit_country": rng.choice(["CRI", "PAN"]), "group_by": "quarter"},
            ]
        )
        queries.append(query | extra)
    return queries


async def unit_days(engine: AsyncEngine) -> tuple[list[date], list[date]]:
    """The days cases and members were identified, and the days they reached a later stage."""
    identified, reached = set(), set()
    async with engine.connect() as conn:
        for table in (Case, Member):
            for row in await conn.execute(select(*(getattr(table, c) for c in STAGES.values()))):
                identified.add(row[0])
                reached |= {day for day in row[1:] if day is not None}
    return sorted(identified), sorted(reached)


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

    cohorts: list[dict[str, str]] = []

    async def check() -> None:
        for params in QUERIES + cohorts:
            response = await client.get(
                "/api/v1/reports/funnel", params=params, headers=users["manager"].headers
            )
            assert response.status_code == 200, response.text
            assert answer(response.json()) == await recount(engine, params), params

    async def programme() -> Any:
        """The whole programme's people per stage (no filter: a split moves people between
        cases of different destinations, never in or out of the programme), and its cases
        per stage but identification (the new case counts as identified)."""
        response = await client.get(
            "/api/v1/reports/funnel", params=QUERIES[0], headers=users["manager"].headers
        )
        stages = response.json()["stages"]
        return [
            (s["stage"], s["people"], s["cases"] if s["stage"] != "identified" else None)
            for s in stages
        ]

    timeline = Timeline(engine, users["worker"], users["boss"])
    await random_history(timeline, users, engine, seed, programme)
    async with engine.connect() as conn:
        splits = await conn.scalar(
            select(func.count()).select_from(Case).where(Case.split_from.is_not(None))
        )
        edited = await conn.scalar(
            select(func.count()).select_from(Member).where(Member.given_name == "Corrected")
        )
    assert splits and edited, "the history holds splits and member edits"
    cohorts += cohort_queries(random.Random(seed), 60, *await unit_days(engine))

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
        daily = select(func.sum(FunnelRollup.people)).where(
            FunnelRollup.grain == "d", FunnelRollup.origin_country == "*"
        )
        assert await conn.scalar(daily) == 3


def test_the_median_of_counted_days_is_the_median_of_the_cases() -> None:
    from collections import Counter

    from app.services.funnel_report import _median

    rng = random.Random(3)
    for _ in range(500):
        days = [rng.randint(0, rng.choice([1, 5, 400])) for _ in range(rng.randint(1, 40))]
        assert _median(Counter(days)) == float(statistics.median(days)), days
