from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Index, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of
from app.vocabulary import FunnelStage

#: The resettlement/transit/origin country of a rollup row that counts every case.
ANY_COUNTRY = "*"

#: The case column holding the date each funnel stage was reached (set once, never moved).
MILESTONES: Mapping[FunnelStage, str] = {
    FunnelStage.identified: "identified_at",
    FunnelStage.submitted: "first_submitted_at",
    FunnelStage.in_transit: "transit_entered_at",
    FunnelStage.resettled: "resettled_at",
}


#: Rollup rows count a milestone day (``day``) or a whole month (``month``: ``day`` is the
#: month's first day): a long period sums months, and days only at its ragged ends. A
#: ``cohort`` row counts by identification month (``day``, its first day), the month the stage
#: was reached (``reached_month``) and the days it took (``days_to_stage``): a cohort of whole
#: months sums them up to the month of ``as_of``, and its medians come from ``days_to_stage``.
DAY, MONTH, COHORT = "d", "m", "c"
GRAINS = (DAY, MONTH, COHORT)
#: A rollup row's key, in its index's order: one slice of countries, then days.
ROLLUP_KEY = (
    "resettlement_country",
    "transit_country",
    "grain",
    "origin_country",
    "day",
    "stage",
    "reached_month",
    "days_to_stage",
)


class FunnelRollup(Base):
    """Funnel counts per milestone day and per month, and per identification month and delay
    (``cohort``), folded: ``(resettlement country, transit country, grain, origin, day, stage,
    reached month, days to stage) → cases, people``. Each case counts once under ``*`` and once
    under every state it was submitted to and every transit country with a stay that was not
    refused, and under ``*`` and its origin, so a filtered funnel is a plain sum over one range
    of the key. Its size depends on days, delays and countries, not on cases."""

    __tablename__ = "funnel_rollup"
    __table_args__ = (
        one_of("grain", GRAINS),
        # the counts in the key's index too (PostgreSQL): a report reads one range of it and
        # no table page (index-only scans; the rows of a range are spread over the table)
        PrimaryKeyConstraint(*ROLLUP_KEY, postgresql_include=["cases", "people"]),
    )

    resettlement_country: Mapped[str] = mapped_column(String(3))
    transit_country: Mapped[str] = mapped_column(String(3))
    grain: Mapped[str] = mapped_column(String(1))
    origin_country: Mapped[str] = mapped_column(String(3))
    day: Mapped[date]
    stage: Mapped[str] = mapped_column(String(16))
    #: the first day of the month the stage was reached (of ``day`` for a day or month row)
    reached_month: Mapped[date]
    #: days from identification to the stage; 0 on a day or month row (not split by delay)
    days_to_stage: Mapped[int] = mapped_column(autoincrement=False)
    cases: Mapped[int]
    people: Mapped[int]


class FunnelDelta(Base):
    """Changes to the rollup, appended in the transaction that makes them (no shared row is
    locked on the write path) and folded into ``funnel_rollup`` in the background."""

    __tablename__ = "funnel_deltas"
    __table_args__ = (
        one_of("grain", GRAINS),
        Index("ix_funnel_deltas_key", "resettlement_country", "transit_country", "grain", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resettlement_country: Mapped[str] = mapped_column(String(3))
    transit_country: Mapped[str] = mapped_column(String(3))
    grain: Mapped[str] = mapped_column(String(1))
    stage: Mapped[str] = mapped_column(String(16))
    day: Mapped[date]
    origin_country: Mapped[str] = mapped_column(String(3))
    reached_month: Mapped[date]
    days_to_stage: Mapped[int]
    cases: Mapped[int]
    people: Mapped[int]
