"""The transit report: households in each transit country now, its capacity, stays ending
soon and overstays."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.sql.base import Executable

from app.db import Db
from app.models import Case, TransitStay
from app.schemas.reports import (
    TransitCountry,
    TransitReport,
    TransitStayLine,
)
from app.services import audit, policy
from app.services.policy import Actor
from app.vocabulary import AccessAction, Role, StayStatus

ENDING_SOON = timedelta(days=30)


@cache
def _in_transit_query(role: Role) -> Executable:
    return (
        select(
            TransitStay.case_id,
            TransitStay.transit_country,
            TransitStay.entered_at,
            TransitStay.authorised_until,
            Case.reference,
            Case.member_count,
        )
        .join(Case, Case.id == TransitStay.case_id)
        .where(TransitStay.status == StayStatus.in_transit, policy.transit_report_scope(role))
        .order_by(TransitStay.transit_country, TransitStay.authorised_until, Case.reference)
    )


async def transit_report(
    read: Db,
    db: Db,
    actor: Actor,
    capacity: Mapping[str, int],
    now: datetime,
) -> TransitReport:
    """Who is in each transit country now, how full it is, and whose stay ends soon or has
    ended without an exit (overstays). Reads on ``read`` (the reports replica, if any);
    logs the households it lists on ``db`` (the primary)."""
    policy.require(actor, policy.Permission.read_reports)
    today = now.date()
    rows = await read.all(_in_transit_query(actor.role), policy.scope_params(actor))
    lines: dict[str, list[TransitStayLine]] = defaultdict(list)
    for row in rows:
        until = row["authorised_until"]
        state = (
            "overstay" if until < today else "ending_soon" if until <= today + ENDING_SOON else "ok"
        )
        lines[row["transit_country"]].append(
            TransitStayLine(
                case_id=row["case_id"],
                reference=row["reference"],
                entered_at=row["entered_at"],
                authorised_until=until,
                people=row["member_count"],
                state=state,
            )
        )
    countries = set(lines)
    if actor.role is Role.transit_officer and actor.country is not None:
        countries.add(actor.country)
    else:
        countries |= set(capacity)
    show_lines = policy.sees_stay_lines(actor)
    report = []
    for country in sorted(countries):
        stays = lines.get(country, [])
        people = sum(line.people for line in stays)
        limit = capacity.get(country)
        report.append(
            TransitCountry(
                transit_country=country,
                capacity=limit,
                households_in_transit=len(stays),
                people_in_transit=people,
                occupancy=round(people / limit, 4) if limit else None,
                ending_within_30_days=sum(1 for line in stays if line.state == "ending_soon"),
                overstays=sum(1 for line in stays if line.state == "overstay"),
                stays=stays if show_lines else [],
            )
        )
    listed = [line.case_id for entry in report for line in entry.stays]
    if listed:
        await audit.log_access(db, actor, AccessAction.report, listed, {"report": "transit"}, now)
    return TransitReport(as_of=today, countries=report)
