"""Keeping the funnel rollup current. A case's contribution to the rollup is a pure function
of its milestones, destinations, transit countries and its members' milestones (a person
counts at a stage on the day that member reached it, as a member of the case it belongs to
now: domain.md "Funnel definitions"); every write appends the
difference between after and before (nothing when none of those changed), and a background
fold adds the deltas into ``funnel_rollup``. ``rebuild`` recomputes it all from the cases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, cast

from sqlalchemy import Insert, delete, func, insert, literal, select, union, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import Db, SqlaDb
from app.models import Case, FunnelDelta, FunnelRollup, Member, Submission, TransitStay
from app.models.funnel import ANY_COUNTRY, COHORT, DAY, MILESTONES, MONTH, ROLLUP_KEY
from app.models.record import CaseRecord
from app.models.transit_stay import STAY_COUNTS, stay_counts

# resettlement country, transit country, grain, origin, day, stage, reached month, days
Key = tuple[str, str, str, str, date, str, date, int]
KEY_COLUMNS = ROLLUP_KEY
log = logging.getLogger("pta.funnel")

#: PostgreSQL advisory lock taken while folding, so replicas fold one at a time.
FOLD_LOCK = 0x7074_6166  # "ptaf"


def _members(record: CaseRecord) -> list[Mapping[str, Any]]:
    return cast(list[Mapping[str, Any]], record.members)  # read by milestone column name


def _signature(record: CaseRecord) -> tuple[Any, ...]:
    case = cast(Mapping[str, Any], record.case)  # read by milestone column name
    return (
        frozenset(
            (m["id"], *(m[column] for column in MILESTONES.values())) for m in _members(record)
        ),
        case["origin_country"],
        *(case[column] for column in MILESTONES.values()),
        frozenset(s["resettlement_country"] for s in record.submissions),
        frozenset(s["transit_country"] for s in record.stays if stay_counts(s["status"])),
    )


def _month(day: date) -> date:
    return day.replace(day=1)


def contributions(record: CaseRecord) -> dict[Key, tuple[int, int]]:
    """What one case adds to the rollup: for each stage, one case on the day the case reached
    it and one person on the day each member reached it, under "any" and under each of its
    destinations and transit countries, under "any" and its origin; and the same by
    identification month and days taken (a member's from its own identification day) for the
    cohort funnel."""
    case = cast(Mapping[str, Any], record.case)  # read by milestone column name
    destinations = {ANY_COUNTRY} | {s["resettlement_country"] for s in record.submissions}
    transits = {ANY_COUNTRY} | {
        s["transit_country"] for s in record.stays if stay_counts(s["status"])
    }
    # (grain, day, stage, reached month, days) -> [cases, people]
    units: dict[tuple[str, date, str, date, int], list[int]] = {}
    for funnel_stage, column in MILESTONES.items():
        for what, unit in [(0, case), *((1, m) for m in _members(record))]:
            reached = unit[column]
            if reached is None:
                continue
            identified = unit["identified_at"]
            days = (reached - identified).days
            for unit_key in (
                (DAY, reached, str(funnel_stage), _month(reached), 0),
                (MONTH, _month(reached), str(funnel_stage), _month(reached), 0),
                (COHORT, _month(identified), str(funnel_stage), _month(reached), days),
            ):
                units.setdefault(unit_key, [0, 0])[what] += 1
    out: dict[Key, tuple[int, int]] = {}
    origins = (ANY_COUNTRY, case["origin_country"])
    for (grain, day, stage, reached_month, days), (cases, people) in units.items():
        for destination in destinations:
            for transit in transits:
                for origin in origins:
                    key = (destination, transit, grain, origin, day, stage, reached_month, days)
                    out[key] = (cases, people)
    return out


def deltas(before: CaseRecord | None, after: CaseRecord) -> list[dict[str, Any]]:
    if before is not None and _signature(before) == _signature(after):
        return []
    old = contributions(before) if before is not None else {}
    new = contributions(after)
    rows = []
    for key in old.keys() | new.keys():
        cases = new.get(key, (0, 0))[0] - old.get(key, (0, 0))[0]
        people = new.get(key, (0, 0))[1] - old.get(key, (0, 0))[1]
        if cases or people:
            rows.append(
                {**dict(zip(KEY_COLUMNS, key, strict=True)), "cases": cases, "people": people}
            )
    return rows


INSERT_DELTAS: Insert = insert(FunnelDelta)


async def record_change(db: Db, before: CaseRecord | None, after: CaseRecord) -> None:
    """Append what this write changed in the funnel (in the write's own transaction)."""
    await db.run_many(INSERT_DELTAS, deltas(before, after))


def counts_source() -> Any:
    """The rollup as readers see it: folded rows plus deltas not folded yet."""
    columns = [*KEY_COLUMNS, "cases", "people"]
    return union_all(
        select(*(FunnelRollup.__table__.c[name] for name in columns)),
        select(*(FunnelDelta.__table__.c[name] for name in columns)),
    ).subquery("funnel_counts")


async def fold(db: Db) -> int:
    """Add the deltas into the rollup and drop them. Returns how many deltas were folded."""
    if db.dialect.is_postgresql:
        locked = await db.scalar(select(func.pg_try_advisory_xact_lock(FOLD_LOCK)))
        if not locked:
            return 0
    top = await db.scalar(select(func.max(FunnelDelta.id)))
    if top is None:
        return 0
    table = FunnelDelta.__table__
    sums = (
        select(
            *(table.c[name] for name in KEY_COLUMNS),
            func.sum(table.c.cases),
            func.sum(table.c.people),
        )
        .where(table.c.id <= top)
        .group_by(*(table.c[name] for name in KEY_COLUMNS))
    )
    statement = db.dialect.upsert(FunnelRollup).from_select([*KEY_COLUMNS, "cases", "people"], sums)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={
            "cases": FunnelRollup.cases + statement.excluded.cases,
            "people": FunnelRollup.people + statement.excluded.people,
        },
    )
    await db.run(statement)
    folded = await db.run(delete(FunnelDelta).where(FunnelDelta.id <= top))
    await db.run(delete(FunnelRollup).where(FunnelRollup.cases == 0, FunnelRollup.people == 0))
    return folded


def milestone_units(column: str) -> Any:
    """Who reached a stage on which day: each case (one case) and each member (one person)
    with that milestone recorded, with its case's id and its own identification day."""
    member = Member.__table__.c
    case = Case.__table__.c
    return union_all(
        select(
            case.id.label("case_id"),
            case[column].label("day"),
            case.identified_at.label("identified"),
            literal(1).label("cases"),
            literal(0).label("people"),
        ).where(case[column].is_not(None)),
        select(member.case_id, member[column], member.identified_at, literal(0), literal(1)).where(
            member[column].is_not(None)
        ),
    ).subquery("units")


def _per_case(rows: Iterable[Any]) -> Any:
    return union(*rows).subquery()


async def rebuild(db: Db) -> None:
    """Recompute the whole rollup from the cases (after a bulk load, or to repair it)."""
    await db.run(delete(FunnelDelta))
    await db.run(delete(FunnelRollup))
    any_country = literal(ANY_COUNTRY)
    destinations = _per_case(
        [
            select(Case.id.label("case_id"), any_country.label("country")),
            select(Submission.case_id, Submission.resettlement_country),
        ]
    )
    transits = _per_case(
        [
            select(Case.id.label("case_id"), any_country.label("country")),
            select(TransitStay.case_id, TransitStay.transit_country).where(STAY_COUNTS),
        ]
    )
    origins = _per_case(
        [
            select(Case.id.label("case_id"), any_country.label("country")),
            select(Case.id, Case.origin_country),
        ]
    )
    month_start = db.dialect.month_start
    for stage, column in MILESTONES.items():
        units = milestone_units(column)
        reached = month_start(units.c.day)
        # grain, day, days to stage (None: not split by delay)
        shapes = (
            (DAY, units.c.day, None),
            (MONTH, reached, None),
            (
                COHORT,
                month_start(units.c.identified),
                db.dialect.days_between(units.c.day, units.c.identified),
            ),
        )
        for grain, day, days in shapes:
            split = [] if days is None else [days]
            totals = (
                select(
                    destinations.c.country,
                    transits.c.country,
                    literal(grain),
                    origins.c.country,
                    day,
                    literal(str(stage)),
                    reached,
                    days if days is not None else literal(0),
                    func.sum(units.c.cases),
                    func.sum(units.c.people),
                )
                .select_from(units)
                .join(destinations, destinations.c.case_id == units.c.case_id)
                .join(transits, transits.c.case_id == units.c.case_id)
                .join(origins, origins.c.case_id == units.c.case_id)
                .group_by(
                    destinations.c.country,
                    transits.c.country,
                    origins.c.country,
                    day,
                    reached,
                    *split,
                )
            )
            await db.run(
                insert(FunnelRollup).from_select([*KEY_COLUMNS, "cases", "people"], totals)
            )


async def fold_forever(engine: AsyncEngine, every: float) -> None:
    """The background fold each worker runs (on PostgreSQL one at a time, by advisory lock)."""
    while True:
        await asyncio.sleep(every)
        try:
            async with engine.begin() as conn:
                await fold(SqlaDb(conn))
        except Exception as error:  # the database may be down: try again next time
            log.warning("funnel fold failed", extra={"error_type": type(error).__name__})
