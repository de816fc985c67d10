"""Outbound notifications: the endpoints admins subscribe for a user, and the outbox of
messages written in the same transaction as each case event."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, one_of, utcnow, uuid7
from app.vocabulary import WebhookStatus


class WebhookEndpoint(Base):
    """Where a user's system hears of the events it may see. ``actions`` is null for every
    action, else the names it wants written ``,decide,submit,`` (one LIKE in the outbox
    statement); ``secret`` is encrypted with a key derived from PTA_SECRET_KEY."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    actions: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(server_default=text("true"), default=True)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookMessage(Base):
    """One event for one endpoint. ``id`` is the message's ``webhook-id`` on every attempt;
    ``attempts`` counts the attempts begun (a claim takes the next number, so a result is
    recorded only by the attempt that holds it); while pending, ``next_attempt_at`` is when
    it is due (a claimed message is leased until then)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        one_of("status", WebhookStatus),
        Index("ix_webhook_messages_endpoint_id_event_id", "endpoint_id", "event_id", unique=True),
        Index(
            "ix_webhook_messages_endpoint_id_case_id_event_id", "endpoint_id", "case_id", "event_id"
        ),
        Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("case_events.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    status: Mapped[WebhookStatus] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    next_attempt_at: Mapped[datetime | None]
