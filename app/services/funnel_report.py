"""The funnel report. It counts milestone dates (set once, never moved by a reopen or a
resubmission), never current statuses: a case on the day the case reached a stage, a person
on the day that member reached it (members' own milestone dates, moved with them by a split)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, extract, func, literal_column, or_, select
from sqlalchemy.sql.base import Executable

from app.db import Db, SqlDialect
from app.errors import ValidationFailed
from app.models import Case, Member, TransitStay
from app.models.funnel import ANY_COUNTRY, COHORT, DAY, MILESTONES, MONTH
from app.models.transit_stay import STAY_COUNTS
from app.schemas.common import today
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
from app.vocabulary import FunnelStage, Role


@dataclass
class Tally:
    cases: int = 0
    people: int = 0
    days: Counter[int] = field(default_factory=Counter)

    def stage(self, stage: FunnelStage, cohort: bool, min_cases: int = 1) -> StageCount:
        median = None
        if cohort and self.cases >= max(min_cases, 1):
            median = _median(self.days)
        return StageCount(stage=stage, cases=self.cases, people=self.people, median_days=median)


def _median(days: Counter[int]) -> float:
    """The median of the days counted (``statistics.median`` of every case's days), walking
    the distinct values instead of the cases."""
    count = sum(days.values())
    middle = []  # the values at positions (count - 1) // 2 and count // 2, in sorted order
    wanted = sorted({(count - 1) // 2, count // 2})
    seen = 0
    for value in sorted(days):
        seen += days[value]
        while wanted and wanted[0] < seen:
            middle.append(value)
            wanted.pop(0)
        if not wanted:
            break
    return float(sum(middle) / len(middle))


def _definition(asked: FunnelQuery) -> str:
    sliced = (
        f" (filters: {', '.join(f'{k}={v}' for k, v in asked.filters().items())})"
        if asked.filters()
        else ""
    )
    if asked.basis is Basis.cohort:
        return (
            f"Of the cases identified between {asked.from_} and {asked.to}{sliced}, how many "
            f"cases and people (current household members) had been first submitted, had "
            f"entered transit and had their arrival confirmed by {asked.as_of}, with the median "
            "days from identification to each stage."
        )
    return (
        f"Cases and people (current household members) that reached each stage — identified, "
        f"first submitted to a resettlement state, entered a transit country, arrival confirmed "
        f"— on a date between {asked.from_} and {min(asked.to, asked.as_of)} inclusive{sliced}; "
        "a case counts once per stage, on the date it first reached it."
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


def _slice(counts: Any, by_origin: bool, by_destination: bool) -> list[ColumnElement[bool]]:
    """The rollup rows of one transit country ("*": all), one resettlement state and one
    origin (or every state, or every origin, one group each)."""
    return [
        counts.transit_country == bindparam("transit"),
        counts.resettlement_country != ANY_COUNTRY
        if by_destination
        else counts.resettlement_country == bindparam("destination"),
        counts.origin_country != ANY_COUNTRY
        if by_origin
        else counts.origin_country == bindparam("origin"),
    ]


@cache
def _cumulative_query(group: GroupBy | None, by_origin: bool, by_destination: bool) -> Executable:
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
    keys = _group_columns(group, counts.day, counts.origin_country, counts.resettlement_country)
    return (
        select(
            counts.stage,
            literal_column("0"),
            *keys,
            func.sum(counts.cases),
            func.sum(counts.people),
        )
        .where(period, *_slice(counts, by_origin, by_destination))
        .group_by(counts.stage, *keys)
    )


@cache
def _cohort_query(group: GroupBy | None, by_origin: bool, by_destination: bool) -> Executable:
    """Sum the cohort rows of the identification months of a period, reached by the month of
    ``as_of``, by days taken (built once per shape; values are parameters)."""
    counts = funnel_rollup.counts_source().c
    keys = _group_columns(group, counts.day, counts.origin_country, counts.resettlement_country)
    return (
        select(
            counts.stage,
            counts.days_to_stage,
            *keys,
            func.sum(counts.cases),
            func.sum(counts.people),
        )
        .where(
            counts.grain == COHORT,
            counts.day.between(bindparam("m_from"), bindparam("m_to")),
            counts.reached_month <= bindparam("reached_by"),
            *_slice(counts, by_origin, by_destination),
        )
        .group_by(counts.stage, counts.days_to_stage, *keys)
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


def _month_end(day: date) -> date:
    return _next_month(day) - timedelta(days=1)


def _cohort_in_rollup(asked: FunnelQuery) -> bool:
    """The cohort rows answer exactly a cohort of whole months (``from`` a first, ``to`` a
    last day) counted to the end of a month or to today (no stage is reached after today):
    what an officer may ask. Any other cohort is counted from the cases."""
    return (
        asked.from_.day == 1
        and asked.to == _month_end(asked.to)
        and (asked.as_of == _month_end(asked.as_of) or asked.as_of >= today())
    )


async def _from_rollup(db: Db, asked: FunnelQuery) -> Tallies:
    """From the rollup: its size depends on months, days, delays and countries, not on
    cases."""
    by_destination = (
        asked.group_by is GroupBy.resettlement_country and asked.resettlement_country is None
    )
    by_origin = asked.group_by is GroupBy.origin_country and asked.origin_country is None
    shape = (asked.group_by, by_origin, by_destination)
    params: dict[str, Any] = {
        "transit": asked.transit_country or ANY_COUNTRY,
        **({} if by_destination else {"destination": asked.resettlement_country or ANY_COUNTRY}),
        **({} if by_origin else {"origin": asked.origin_country or ANY_COUNTRY}),
    }
    cohort = asked.basis is Basis.cohort
    if cohort:
        statement = _cohort_query(*shape)
        params |= {"m_from": asked.from_, "m_to": asked.to, "reached_by": asked.as_of}
    else:
        statement = _cumulative_query(*shape)
        params |= _period(asked.from_, min(asked.to, asked.as_of))
    tallies: Tallies = {stage: defaultdict(Tally) for stage in FunnelStage}
    for row in await db.all(statement, params):
        cases, people = int(row[-2]), int(row[-1])
        if cases == 0 and people == 0:
            continue
        tally = tallies[FunnelStage(row[0])][_group_key(asked.group_by, list(row[2:-2]))]
        tally.cases += cases
        tally.people += people
        if cohort:
            tally.days[int(row[1])] += cases
    return tallies


@cache
def _case_query(
    dialect: SqlDialect,
    stage: FunnelStage,
    group: GroupBy | None,
    origin: bool,
    destination: bool,
    transit: bool,
    cohort: bool,
    live_only: bool,
    people: bool = False,
) -> Executable:
    """Counted case by case: for a cohort, the cases identified in a window and how many days
    each took to reach ``stage``; otherwise the cases that reached ``stage`` in the window.
    With ``people``, the members instead, each by its own dates (domain.md "Funnel
    definitions"). ``live_only``: destinations are only each case's live submission (a
    transit officer's)."""
    unit = Member.__table__ if people else Case.__table__
    identified = unit.c.identified_at
    milestone = unit.c[MILESTONES[stage]]
    destinations = policy.report_submissions(Role.transit_officer if live_only else Role.caseworker)
    period_day = identified if cohort else milestone
    keys = _group_columns(
        group, period_day, Case.origin_country, destinations.c.resettlement_country
    )
    days = dialect.days_between(milestone, identified)
    window: tuple[Any, Any] = bindparam("day_from"), bindparam("day_to")
    where: list[ColumnElement[bool]] = [milestone.is_not(None)]
    if cohort:
        where += [identified.between(*window), milestone <= bindparam("as_of")]
    else:
        where.append(milestone.between(*window))
    if origin:
        where.append(Case.origin_country == bindparam("origin"))
    if destination:
        where.append(destinations.c.resettlement_country == bindparam("destination"))
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
    if destination or group is GroupBy.resettlement_country:
        statement = statement.join(destinations, destinations.c.case_id == Case.id)
    return statement.where(*where).group_by(*keys, *([] if people else [days]))


async def _per_case(db: Db, asked: FunnelQuery, live_only: bool) -> Tallies:
    """From the cases themselves (an index range on identified_at for a cohort), with the
    days each took to reach each stage; people from the members, by their own dates."""
    cohort = asked.basis is Basis.cohort
    given = {
        "as_of": asked.as_of if cohort else None,
        "origin": asked.origin_country,
        "destination": asked.resettlement_country,
        "transit": asked.transit_country,
    }
    params = {
        "day_from": asked.from_,
        "day_to": asked.to if cohort else min(asked.to, asked.as_of),
        **{name: value for name, value in given.items() if value is not None},
    }
    tallies: Tallies = {}
    for stage in FunnelStage:
        shape = (
            db.dialect,
            stage,
            asked.group_by,
            asked.origin_country is not None,
            asked.resettlement_country is not None,
            asked.transit_country is not None,
            cohort,
            live_only,
        )
        tallies[stage] = defaultdict(Tally)
        for row in await db.all(_case_query(*shape), params):
            tally = tallies[stage][_group_key(asked.group_by, list(row[:-2]))]
            cases = int(row[-1])
            tally.cases += cases
            tally.days[int(row[-2])] += cases
        for row in await db.all(_case_query(*shape, people=True), params):
            tallies[stage][_group_key(asked.group_by, list(row[:-1]))].people += int(row[-1])
    return tallies


OFFICERS = frozenset({Role.resettlement_officer, Role.transit_officer})


def _officer_query(query: FunnelQuery, today: date) -> FunnelQuery:
    """Officers see no more in a report than in their case views, where they cannot learn a
    case's identification day: whole months only (``from`` the first, ``to`` the last day of
    a month; ``to`` defaults to the end of this month, counts stopping at today), and an
    ``as_of`` that is the last day of a month or today."""
    to = query.to if "to" in query.model_fields_set else _next_month(today) - timedelta(days=1)
    problems = []
    if query.from_.day != 1:
        problems.append(("from", "must be the first day of a month for an officer"))
    if _next_month(to) - timedelta(days=1) != to:
        problems.append(("to", "must be the last day of a month for an officer"))
    as_of = query.as_of
    if as_of != today and _next_month(as_of) - timedelta(days=1) != as_of:
        problems.append(("as_of", "must be the last day of a month, or today, for an officer"))
    if problems:
        raise ValidationFailed(
            f"{problems[0][0]}: {problems[0][1]}",
            [{"loc": ["query", name], "msg": msg, "type": "value_error"} for name, msg in problems],
        )
    return query.model_copy(update={"to": to, "as_of": min(as_of, today)})


async def funnel(db: Db, actor: Actor, query: FunnelQuery) -> FunnelReport:
    resettlement, transit = policy.report_slice(
        actor, query.resettlement_country, query.transit_country
    )
    asked = query.model_copy(
        update={"resettlement_country": resettlement, "transit_country": transit}
    )
    officer = actor.role in OFFICERS
    if officer:
        asked = _officer_query(asked, today())
    min_cases = policy.OFFICER_MEDIAN_MIN_CASES if officer else 1
    cohort = asked.basis is Basis.cohort
    by_destination = (
        asked.resettlement_country is not None or asked.group_by is GroupBy.resettlement_country
    )
    live_only = by_destination and not policy.report_sees_all_submissions(actor.role)

    async def count(query: FunnelQuery) -> Tallies:
        if live_only or (cohort and not _cohort_in_rollup(query)):
            return await _per_case(db, query, live_only)
        return await _from_rollup(db, query)

    by_stage = await count(asked)
    if asked.group_by is GroupBy.resettlement_country:
        # A case submitted to two states is in both groups, and once in the totals.
        overall = await count(asked.model_copy(update={"group_by": None}))
    else:
        overall = by_stage
    totals = []
    for stage in FunnelStage:
        total = Tally()
        for tally in overall[stage].values():
            total.cases += tally.cases
            total.people += tally.people
            total.days.update(tally.days)
        totals.append(total.stage(stage, cohort, min_cases))
    groups: list[FunnelGroup] = []
    if asked.group_by is not None:
        keys = sorted({key for tallies in by_stage.values() for key in tallies}, key=str)
        groups = [
            FunnelGroup(
                key=key,
                stages=[
                    by_stage[s].get(key, Tally()).stage(s, cohort, min_cases) for s in FunnelStage
                ],
            )
            for key in keys
        ]
    return FunnelReport(
        definition=_definition(asked),
        basis=asked.basis,
        from_=asked.from_,
        to=asked.to,
        as_of=asked.as_of,
        filters=asked.filters(),
        group_by=asked.group_by,
        stages=totals,
        groups=groups,
    )
