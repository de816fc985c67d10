from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of, utcnow, uuid7
from app.vocabulary import CaseStatus, ClosureReason, Pathway, Priority, Sex


class Case(Base):
    """One household moved together (one Resettlement Registration Form).

    ``status`` is written only by the lifecycle (services/lifecycle.py). The milestone dates
    (identified, first submitted, transit entry, departed, resettled) are set once each.
    """

    __tablename__ = "cases"
    __table_args__ = (
        one_of("status", CaseStatus),
        one_of("status_before_close", CaseStatus),
        one_of("pathway", Pathway),
        one_of("processing_priority", Priority),
        one_of("closure_reason", ClosureReason),
        CheckConstraint("length(origin_country) = 3", name="origin_country_code"),
        CheckConstraint("member_count BETWEEN 1 AND 30", name="member_count"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_cases_updated_at_id", "updated_at", "id"),
        Index("ix_cases_status_id", "status", "id"),
        Index("ix_cases_origin_country_id", "origin_country", "id"),
        Index("ix_cases_identified_at", "identified_at"),
        Index("ix_cases_first_submitted_at", "first_submitted_at"),
        Index("ix_cases_transit_entered_at", "transit_entered_at"),
        Index("ix_cases_resettled_at", "resettled_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    origin_country: Mapped[str] = mapped_column(String(3))
    pathway: Mapped[Pathway] = mapped_column(String(16))
    status: Mapped[CaseStatus] = mapped_column(String(16))
    status_before_close: Mapped[CaseStatus | None] = mapped_column(String(16))
    processing_priority: Mapped[Priority] = mapped_column(String(16))
    referral_source: Mapped[str | None] = mapped_column(Text)
    protection_summary: Mapped[str | None] = mapped_column(Text)
    member_count: Mapped[int]
    identified_at: Mapped[date]
    first_submitted_at: Mapped[date | None]
    transit_entered_at: Mapped[date | None]
    departed_at: Mapped[date | None]
    resettled_at: Mapped[date | None]
    closed_at: Mapped[datetime | None]
    closure_reason: Mapped[ClosureReason | None] = mapped_column(String(32))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    drafted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    #: the case this one was split from (``split_case``), and the ids of cases split from it
    split_from: Mapped[uuid.UUID | None]
    split_into: Mapped[list[str] | None] = mapped_column(JSON)  # null: none yet
    #: ``set_legal_hold``: kept from erasure while true (domain.md "Retention")
    legal_hold: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    #: when retention erased the case's personal data and free texts
    erased_at: Mapped[datetime | None]


class Member(Base):
    """An individual in a case; people counts in every report are counts of members.

    ``id`` never changes while the member exists, across PATCHes and splits. The milestone
    dates are the days this member reached each funnel stage as a member of the case it
    belongs to now (domain.md "Funnel definitions"): set once each, moved with the member by
    a split, gone with a removed member."""

    __tablename__ = "members"
    __table_args__ = (
        one_of("sex", Sex),
        CheckConstraint("length(nationality) = 3", name="nationality_code"),
        # At most one principal per case here; "at least one" is checked on every write.
        Index("uq_members_id", "id", unique=True),
        Index("ix_members_identified_at", "identified_at"),  # the cohort funnel's people
        Index(
            "uq_members_one_principal",
            "case_id",
            unique=True,
            sqlite_where=text("is_principal"),
            postgresql_where=text("is_principal"),
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    is_principal: Mapped[bool]
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[Sex] = mapped_column(String(8))
    date_of_birth: Mapped[date]
    dob_estimated: Mapped[bool] = mapped_column(server_default=text("false"), default=False)
    nationality: Mapped[str] = mapped_column(String(3))
    relationship: Mapped[str] = mapped_column(String(50))
    document_number: Mapped[str | None] = mapped_column(String(64))
    id: Mapped[uuid.UUID] = mapped_column(default=uuid7)
    identified_at: Mapped[date]
    first_submitted_at: Mapped[date | None]
    transit_entered_at: Mapped[date | None]
    resettled_at: Mapped[date | None]


class ReferenceCounter(Base):
    """The last reference number handed out per origin and year: a row lock makes the
    ``PTA-<origin>-<year>-<number>`` sequence unique and gap-free under concurrency."""

    __tablename__ = "reference_counters"

    origin_country: Mapped[str] = mapped_column(String(3), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int]
