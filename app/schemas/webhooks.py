"""Webhook endpoints and their deliveries (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StringConstraints

from app.schemas.common import NO_NUL, PartialUpdate, StrictInput
from app.vocabulary import Action, WebhookStatus

#: Every action a case event can carry: creating and editing a case, and the transitions.
EVENT_ACTIONS: tuple[str, ...] = ("create", "update", *(action.value for action in Action))


def _known_action(value: str) -> str:
    if value not in EVENT_ACTIONS:
        raise ValueError(f"not an event action; one of {', '.join(EVENT_ACTIONS)}")
    return value


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("an action is named twice")
    return values


EventAction = Annotated[
    str, AfterValidator(_known_action), Field(json_schema_extra={"enum": list(EVENT_ACTIONS)})
]
#: Only these actions (null: every action).
Actions = Annotated[
    list[EventAction],
    Field(min_length=1, max_length=len(EVENT_ACTIONS), json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct),
]
#: The shape only; app/services/webhook_targets.py judges the scheme and the address.
Url = Annotated[
    str,
    StringConstraints(
        min_length=8, max_length=2048, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s\x00-\x1f\x7f]+$"
    ),
]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]


class WebhookCreate(StrictInput):
    user_id: uuid.UUID
    url: Url
    actions: Actions | None = None
    description: Description | None = None


class WebhookUpdate(PartialUpdate):
    """Change what is given; ``actions: null`` means every action again."""

    NOT_NULL = ("url", "active")

    url: Url | None = None
    actions: Actions | None = None
    active: StrictBool | None = None
    description: Description | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    url: str
    actions: list[str] | None
    active: bool
    description: str | None


class WebhookCreated(WebhookOut):
    """The secret appears here and on rotation only."""

    secret: str


class WebhookSecret(BaseModel):
    secret: str


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: int
    type: str
    status: WebhookStatus
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    next_attempt_at: datetime | None
