from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of, uuid7
from app.vocabulary import ExitReason, StayStatus


class TransitStay(Base):
    """The household's stay in a transit country while the resettlement state decides."""

    __tablename__ = "transit_stays"
    __table_args__ = (
        one_of("status", StayStatus),
        one_of("exit_reason", ExitReason),
        CheckConstraint("length(transit_country) = 3", name="transit_country_code"),
        CheckConstraint("authorised_until >= entered_at", name="authorised_after_entry"),
        Index("ix_transit_stays_transit_country_status", "transit_country", "status"),
        Index("ix_transit_stays_case_id", "case_id"),
        # a transit officer's scope, in case order (keyset pages); with the status in the
        # index the scope (not refused) is checked without visiting the table (bench.explain)
        Index(
            "ix_transit_stays_transit_country_case_id",
            "transit_country",
            "case_id",
            postgresql_include=["status"],
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    transit_country: Mapped[str] = mapped_column(String(3))
    status: Mapped[StayStatus] = mapped_column(String(16))
    requested_at: Mapped[datetime]
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    authorised_at: Mapped[datetime | None]
    authorisation_note: Mapped[str | None] = mapped_column(Text)
    refused_at: Mapped[datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    entered_at: Mapped[date | None]
    authorised_until: Mapped[date | None]
    exited_at: Mapped[date | None]
    exit_reason: Mapped[ExitReason | None] = mapped_column(String(32))


#: A refused stay never took the household to that country: it does not count wherever a stay
#: in a country counts — a transit officer's scope, the funnel's ``transit_country`` filter and
#: its rollup. (The case list's ``transit_country`` filter for UNHCR matches any stay, refused
#: ones too, as api.md says; tests/test_stay_counts.py pins each use.)
def stay_counts(status: str) -> bool:
    return status != StayStatus.refused


#: ``stay_counts`` as an SQL condition on ``transit_stays``.
STAY_COUNTS = TransitStay.status != StayStatus.refused
