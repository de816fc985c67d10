from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of
from app.vocabulary import AccessAction, Role


class AccessLogEntry(Base):
    """One read of case data: who, when, what kind of read and with which filter."""

    __tablename__ = "access_log"
    __table_args__ = (
        one_of("action", AccessAction),
        one_of("role", Role),
        Index("ix_access_log_user_id_id", "user_id", "id"),
        Index("ix_access_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the reader's country (officers) when it read: who received the data (subject access)
    country: Mapped[str | None] = mapped_column(String(3))


class AccessLogCase(Base):
    """The cases one read touched (one row per case), so the log is searchable by case."""

    __tablename__ = "access_log_cases"
    __table_args__ = (Index("ix_access_log_cases_case_id", "case_id", "access_log_id"),)

    access_log_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("access_log.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
