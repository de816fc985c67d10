"""What a resettlement state asks before deciding, and the checklist of an acceptance."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of
from app.vocabulary import RequirementItem, RequirementStatus, Role


class InformationRequest(Base):
    """A state's question on a submission (``decide`` with ``information_requested``) and
    UNHCR's answer (``provide_information``); oldest first by ``id``."""

    __tablename__ = "information_requests"
    __table_args__ = (Index("ix_information_requests_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE")
    )
    asked_at: Mapped[datetime]
    asked_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str | None] = mapped_column(Text)


class DepartureRequirement(Base):
    """One item of the checklist an accepted submission starts; ``note_role`` is the role of
    whoever wrote the note (an officer sees notes of its own role only)."""

    __tablename__ = "departure_requirements"
    __table_args__ = (
        one_of("item", RequirementItem),
        one_of("status", RequirementStatus),
        one_of("note_role", Role),
        Index("ix_departure_requirements_case_id", "case_id"),
        # GET /cases?requirements_overdue=true: the few pending items with a due date, by date
        Index(
            "ix_departure_requirements_pending_due_on",
            "due_on",
            "case_id",
            sqlite_where=text("status = 'pending' AND due_on IS NOT NULL"),
            postgresql_where=text("status = 'pending' AND due_on IS NOT NULL"),
        ),
    )

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[RequirementItem] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int]
    status: Mapped[RequirementStatus] = mapped_column(String(16))
    due_on: Mapped[date | None]
    done_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
    note_role: Mapped[Role | None] = mapped_column(String(32))
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
