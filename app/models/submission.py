from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of, uuid7
from app.vocabulary import Category, Priority, SubmissionStatus, WithdrawalReason


class Submission(Base):
    """The case put to one resettlement state; a resubmission is a new row (next sequence)."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("case_id", "sequence"),
        one_of("status", SubmissionStatus),
        one_of("submission_priority", Priority),
        one_of("primary_category", Category),
        one_of("secondary_category", Category),
        one_of("withdrawal_reason", WithdrawalReason),
        CheckConstraint("length(resettlement_country) = 3", name="resettlement_country_code"),
        CheckConstraint("sequence >= 1", name="sequence"),
        Index("ix_submissions_resettlement_country_case_id", "resettlement_country", "case_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    resettlement_country: Mapped[str] = mapped_column(String(3))
    submission_priority: Mapped[Priority] = mapped_column(String(16))
    primary_category: Mapped[Category] = mapped_column(String(48))
    secondary_category: Mapped[Category] = mapped_column(String(48))
    status: Mapped[SubmissionStatus] = mapped_column(String(32))
    submitted_at: Mapped[datetime]
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None]
    withdrawal_reason: Mapped[WithdrawalReason | None] = mapped_column(String(32))
    #: the ids of the members the state accepted (null unless accepted), and whether that
    #: left out a current member at the decision (it stays true after ``split_case``)
    accepted_members: Mapped[list[str] | None] = mapped_column(JSON)
    split: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
