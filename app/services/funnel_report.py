"""The funnel report. It counts milestone dates (set once, never moved by a reopen or a
resubmission), never current statuses: a case on the day the case reached a stage, a person
on the day that member reached it (members' own milestone dates, moved with them by a split)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, extract, func, or_, select
from sqlalchemy.sql.base import Executable

from app.db import Db
from app.models import Case, Member, Submission, TransitStay
from app.models.funnel import ANY_COUNTRY, DAY, MILESTONES, MONTH
from app.models.transit_stay import STAY_COUNTS
from app.schemas.reports import (
    PERIODS,
    Basis,
    FunnelGroup,
    FunnelQuery,
    FunnelReport,
    GroupBy,
    StageCount,
)
from app.services import funnel_rollup, policy
from app.services.policy import Actor
from app.services.sql import days_between
from app.vocabulary import FunnelStage


@dataclass
class Tally:
    cases: int = 0
    people: int = 0
    days: Counter[int] = field(default_factory=Counter)

    def stage(self, stage: FunnelStage, cohort: bool) -> StageCount:
        median = None
        if cohort and self.cases:
            median = float(statistics.median(self.days.elements()))
        return StageCount(stage=stage, cases=self.cases, people=self.people, median_days=median)


def _definition(q: FunnelQuery) -> str:
    sliced = (
        f" (filters: {', '.join(f'{k}={v}' for k, v in q.filters().items())})"
        if q.filters()
        else ""
    )
    if q.basis is Basis.cohort:
        return (
            f"Of the cases identified between {q.from_} and {q.to}{sliced}, how many cases and "
            f"people (current household members) had been first submitted, had entered transit "
            f"and had their arrival confirmed by {q.as_of}, with the median days from "
            "identification to each stage."
        )
    return (
        f"Cases and people (current household members) that reached each stage — identified, "
        f"first submitted to a resettlement state, entered a transit country, arrival confirmed "
        f"— on a date between {q.from_} and {min(q.to, q.as_of)} inclusive{sliced}; a case "
        "counts once per stage, on the date it first reached it."
    )


Tallies = dict[FunnelStage, dict[str | None, Tally]]


def _period_key(group: GroupBy, year: int, month: int) -> str:
    if group is GroupBy.month:
        return f"{year:04d}-{month:02d}"
    if group is GroupBy.quarter:
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"


def _group_columns(group: GroupBy | None, day: Any, origin: Any, destination: Any) -> list[Any]:
    if group in PERIODS:
        return [extract("year", day), extract("month", day)]
    if group is GroupBy.origin_country:
        return [origin]
    if group is GroupBy.resettlement_country:
        return [destination]
    return []


def _group_key(group: GroupBy | None, values: list[Any]) -> str | None:
    if group in PERIODS:
        return _period_key(group, int(values[0]), int(values[1]))
    return str(values[0]) if group is not None else None


@cache
def _cumulative_query(group: GroupBy | None, origin: bool, by_destination: bool) -> Executable:
    """Sum the rollup over a period: whole months from the month rows, the ragged ends from
    the day rows (built once per shape; values are parameters)."""
    counts = funnel_rollup.counts_source().c
    period = or_(
        and_(counts.grain == MONTH, counts.day.between(bindparam("m_from"), bindparam("m_to"))),
        and_(
            counts.grain == DAY,
            or_(
                counts.day.between(bindparam("head_from"), bindparam("head_to")),
                counts.day.between(bindparam("tail_from"), bindparam("tail_to")),
            ),
        ),
    )
    where = [
        period,
        counts.transit_country == bindparam("transit"),
        counts.resettlement_country != ANY_COUNTRY
        if by_destination
        else counts.resettlement_country == bindparam("destination"),
    ]
    if origin:
        where.append(counts.origin_country == bindparam("origin"))
    keys = _group_columns(group, counts.day, counts.origin_country, counts.resettlement_country)
    return (
        select(counts.stage, *keys, func.sum(counts.cases), func.sum(counts.people))
        .where(*where)
        .group_by(counts.stage, *keys)
    )


def _period(start: date, end: date) -> dict[str, date]:
    """Split [start, end] into whole months and the days before and after them."""
    nothing = {"m_from": date.max, "m_to": date.min, "tail_from": date.max, "tail_to": date.min}
    first_month = start if start.day == 1 else _next_month(start)
    after_last = _next_month(end)
    last_month = after_last if end == after_last - timedelta(days=1) else end.replace(day=1)
    if first_month >= last_month:  # no whole month inside: days only
        return {**nothing, "head_from": start, "head_to": end}
    return {
        "m_from": first_month,
        "m_to": last_month - timedelta(days=1),
        "head_from": start,
        "head_to": first_month - timedelta(days=1),
        "tail_from": last_month,
        "tail_to": end,
    }


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


async def _cumulative(db: Db, q: FunnelQuery) -> Tallies:
    """From the rollup: its size depends on months, days and countries, not on cases."""
    by_destination = q.group_by is GroupBy.resettlement_country and q.resettlement_country is None
    statement = _cumulative_query(q.group_by, q.origin_country is not None, by_destination)
    params = {
        **_period(q.from_, min(q.to, q.as_of)),
        "transit": q.transit_country or ANY_COUNTRY,
        "destination": q.resettlement_country or ANY_COUNTRY,
        "origin": q.origin_country,
    }
    tallies: Tallies = {stage: defaultdict(Tally) for stage in FunnelStage}
    for row in await db.all(statement, params):
        cases, people = int(row[-2]), int(row[-1])
        if cases == 0 and people == 0:
            continue
        tally = tallies[FunnelStage(row[0])][_group_key(q.group_by, list(row[1:-2]))]
        tally.cases += cases
        tally.people += people
    return tallies


@cache
def _cohort_query(
    dialect: str,
    stage: FunnelStage,
    group: GroupBy | None,
    origin: bool,
    destination: bool,
    transit: bool,
    people: bool = False,
) -> Executable:
    """Cases identified in a window and how many days each took to reach ``stage`` — or,
    with ``people``, members identified in the window who reached it (by their own dates)."""
    unit = Member.__table__ if people else Case.__table__
    identified = unit.c.identified_at
    milestone = unit.c[MILESTONES[stage]]
    destinations = (
        select(Submission.case_id, Submission.resettlement_country)
        .where(
            Submission.resettlement_country == bindparam("destination")
            if destination
            else Submission.resettlement_country.is_not(None)
        )
        .distinct()
        .subquery()
    )
    keys = _group_columns(
        group, identified, Case.origin_country, destinations.c.resettlement_country
    )
    days = days_between(dialect, milestone, identified)
    where: list[ColumnElement[bool]] = [
        identified.between(bindparam("day_from"), bindparam("day_to")),
        milestone.is_not(None),
        milestone <= bindparam("as_of"),
    ]
    if origin:
        where.append(Case.origin_country == bindparam("origin"))
    if destination:
        where.append(
            select(Submission.id)
            .where(
                Submission.case_id == Case.id,
                Submission.resettlement_country == bindparam("destination"),
            )
            .exists()
        )
    if transit:
        where.append(
            select(TransitStay.id)
            .where(
                TransitStay.case_id == Case.id,
                TransitStay.transit_country == bindparam("transit"),
                STAY_COUNTS,
            )
            .exists()
        )
    if people:
        statement = (
            select(*keys, func.count()).select_from(Member).join(Case, Case.id == Member.case_id)
        )
    else:
        statement = select(*keys, days, func.count()).select_from(Case)
    if group is GroupBy.resettlement_country:
        statement = statement.join(destinations, destinations.c.case_id == Case.id)
    return statement.where(*where).group_by(*keys, *([] if people else [days]))


async def _cohort(db: Db, q: FunnelQuery) -> Tallies:
    """From the cases identified in the window (an index range on identified_at), with the
    days each took to reach each stage; people from the members identified in the window."""
    params = {
        "day_from": q.from_,
        "day_to": q.to,
        "as_of": q.as_of,
        "origin": q.origin_country,
        "destination": q.resettlement_country,
        "transit": q.transit_country,
    }
    tallies: Tallies = {}
    for stage in FunnelStage:
        shape = (
            db.dialect,
            stage,
            q.group_by,
            q.origin_country is not None,
            q.resettlement_country is not None,
            q.transit_country is not None,
        )
        tallies[stage] = defaultdict(Tally)
        for row in await db.all(_cohort_query(*shape), params):
            tally = tallies[stage][_group_key(q.group_by, list(row[:-2]))]
            cases = int(row[-1])
            tally.cases += cases
            tally.days[int(row[-2])] += cases
        for row in await db.all(_cohort_query(*shape, people=True), params):
            tallies[stage][_group_key(q.group_by, list(row[:-1]))].people += int(row[-1])
    return tallies


async def funnel(db: Db, actor: Actor, query: FunnelQuery) -> FunnelReport:
    resettlement, transit = policy.report_slice(
        actor, query.resettlement_country, query.transit_country
    )
    q = query.model_copy(update={"resettlement_country": resettlement, "transit_country": transit})
    cohort = q.basis is Basis.cohort
    count = _cohort if cohort else _cumulative
    by_stage = await count(db, q)
    if q.group_by is GroupBy.resettlement_country:
        # A case submitted to two states is in both groups, and once in the totals.
        overall = await count(db, q.model_copy(update={"group_by": None}))
    else:
        overall = by_stage
    totals = []
    for stage in FunnelStage:
        total = Tally()
        for tally in overall[stage].values():
            total.cases += tally.cases
            total.people += tally.people
            total.days.update(tally.days)
        totals.append(total.stage(stage, cohort))
    groups: list[FunnelGroup] = []
    if q.group_by is not None:
        keys = sorted({key for tallies in by_stage.values() for key in tallies}, key=str)
        groups = [
            FunnelGroup(
                key=key,
                stages=[by_stage[s].get(key, Tally()).stage(s, cohort) for s in FunnelStage],
            )
            for key in keys
        ]
    return FunnelReport(
        definition=_definition(q),
        basis=q.basis,
        from_=q.from_,
        to=q.to,
        as_of=q.as_of,
        filters=q.filters(),
        group_by=q.group_by,
        stages=totals,
        groups=groups,
    )
