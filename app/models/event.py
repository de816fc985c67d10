from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of
from app.vocabulary import CaseStatus, Role


class CaseEvent(Base):
    """Append-only history of a case: never updated, never deleted (but for the payload's
    erasure, which keeps its digest). Each event's ``hash`` chains it to the case's previous
    one (app/chain.py).

    ``resettlement_country`` / ``transit_country`` say which submission or stay an event is
    about, so an officer's view of the history is filtered in SQL.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        one_of("role", Role),
        one_of("from_status", CaseStatus),
        one_of("to_status", CaseStatus),
        Index("ix_case_events_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[CaseStatus | None] = mapped_column(String(16))
    to_status: Mapped[CaseStatus] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role: Mapped[Role] = mapped_column(String(32))
    resettlement_country: Mapped[str | None] = mapped_column(String(3))
    transit_country: Mapped[str | None] = mapped_column(String(3))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the chain (app/chain.py): SHA-256 over the case's previous event's hash and this one
    hash: Mapped[str] = mapped_column(String(64))
    #: set when the payload is erased (retention): the digest the hash was made with
    payload_digest: Mapped[str | None] = mapped_column(String(64))
