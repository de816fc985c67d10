from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of
from app.vocabulary import FunnelStage

#: The resettlement/transit country of a rollup row that counts every case.
ANY_COUNTRY = "*"

#: The case column holding the date each funnel stage was reached (set once, never moved).
MILESTONES: Mapping[FunnelStage, str] = {
    FunnelStage.identified: "identified_at",
    FunnelStage.submitted: "first_submitted_at",
    FunnelStage.in_transit: "transit_entered_at",
    FunnelStage.resettled: "resettled_at",
}


#: Rollup rows count a milestone day (``day``) or a whole month (``month``: ``day`` is the
#: month's first day): a long period sums months, and days only at its ragged ends.
DAY, MONTH = "d", "m"


class FunnelRollup(Base):
    """Funnel counts per milestone day and per month, folded: ``(grain, day, stage, origin,
    resettlement country, transit country) → cases, people``. Each case counts once under ``*``
    and once under every state it was submitted to and every transit country with a stay that
    was not refused, so a filtered funnel is a plain sum. Its size depends on days and
    countries, not on cases."""

    __tablename__ = "funnel_rollup"
    __table_args__ = (one_of("grain", (DAY, MONTH)),)

    resettlement_country: Mapped[str] = mapped_column(String(3), primary_key=True)
    transit_country: Mapped[str] = mapped_column(String(3), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(3), primary_key=True)
    cases: Mapped[int]
    people: Mapped[int]


class FunnelDelta(Base):
    """Changes to the rollup, appended in the transaction that makes them (no shared row is
    locked on the write path) and folded into ``funnel_rollup`` in the background."""

    __tablename__ = "funnel_deltas"
    __table_args__ = (
        one_of("grain", (DAY, MONTH)),
        Index("ix_funnel_deltas_key", "resettlement_country", "transit_country", "grain", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resettlement_country: Mapped[str] = mapped_column(String(3))
    transit_country: Mapped[str] = mapped_column(String(3))
    grain: Mapped[str] = mapped_column(String(1))
    stage: Mapped[str] = mapped_column(String(16))
    day: Mapped[date]
    origin_country: Mapped[str] = mapped_column(String(3))
    cases: Mapped[int]
    people: Mapped[int]
