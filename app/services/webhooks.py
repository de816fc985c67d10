"""Webhook endpoints and their deliveries (admins only): subscribe a user's system, change,
rotate its secret, list what was sent and send a failed message again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Update, bindparam, delete, insert, select, update
from sqlalchemy.sql.base import Executable

from app.db import Db
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import CaseEvent, User, WebhookEndpoint, WebhookMessage
from app.models.base import uuid7
from app.schemas.common import Page
from app.schemas.webhooks import WebhookCreate, WebhookUpdate
from app.services import pagination, policy, webhook_signing, webhook_targets
from app.services.outbox import listed_actions, stored_actions
from app.services.policy import CASE_READERS, Actor, Permission
from app.vocabulary import Role, WebhookStatus

#: Every column but the secret, which is shown once and never read back through the API.
ENDPOINT_COLUMNS = tuple(c for c in WebhookEndpoint.__table__.columns if c.key != "secret")
#: Larger than any event id (the first page of deliveries starts below it).
_NO_EVENT_YET = 2**62

ENDPOINT_BY_ID: Executable = select(*ENDPOINT_COLUMNS).where(
    WebhookEndpoint.id == bindparam("endpoint_id")
)
ENDPOINT_PAGE: Executable = (
    select(*ENDPOINT_COLUMNS)
    .where(WebhookEndpoint.id > bindparam("after"))
    .order_by(WebhookEndpoint.id)
    .limit(bindparam("page_size"))
)
INSERT_ENDPOINT: Insert = insert(WebhookEndpoint).returning(*ENDPOINT_COLUMNS)
UPDATE_ENDPOINT: Update = (
    update(WebhookEndpoint)
    .where(WebhookEndpoint.id == bindparam("endpoint_key"))
    .returning(*ENDPOINT_COLUMNS)
)
DELETE_MESSAGES: Executable = delete(WebhookMessage).where(
    WebhookMessage.endpoint_id == bindparam("endpoint_id")
)
DELETE_ENDPOINT: Executable = delete(WebhookEndpoint).where(
    WebhookEndpoint.id == bindparam("endpoint_id")
)
SUBSCRIBER: Executable = select(User.role, User.active).where(User.id == bindparam("user_id"))
DELIVERY_COLUMNS = (
    WebhookMessage.id,
    WebhookMessage.event_id,
    CaseEvent.action,
    WebhookMessage.status,
    WebhookMessage.attempts,
    WebhookMessage.last_attempt_at,
    WebhookMessage.last_status_code,
    WebhookMessage.next_attempt_at,
)
DELIVERY_PAGE: Executable = (
    select(*DELIVERY_COLUMNS)
    .join(CaseEvent, CaseEvent.id == WebhookMessage.event_id)
    .where(
        WebhookMessage.endpoint_id == bindparam("endpoint_id"),
        WebhookMessage.event_id < bindparam("before"),
    )
    .order_by(WebhookMessage.event_id.desc())
    .limit(bindparam("page_size"))
)
DELIVERY_BY_ID: Executable = (
    select(*DELIVERY_COLUMNS)
    .join(CaseEvent, CaseEvent.id == WebhookMessage.event_id)
    .where(
        WebhookMessage.endpoint_id == bindparam("endpoint_id"),
        WebhookMessage.id == bindparam("message_id"),
    )
)
RETRY: Update = (
    update(WebhookMessage)
    .where(
        WebhookMessage.endpoint_id == bindparam("endpoint_key"),
        WebhookMessage.id == bindparam("message_key"),
        WebhookMessage.status == WebhookStatus.failed,
    )
    .values(status=WebhookStatus.pending, next_attempt_at=bindparam("due"))
)


def endpoint_view(row: Any) -> dict[str, Any]:
    view = dict(row)
    view["actions"] = listed_actions(view["actions"])
    return view


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    )


async def _check_url(url: str, allow_private: bool) -> None:
    try:
        await webhook_targets.resolve(url, allow_private=allow_private)
    except webhook_targets.RefusedTarget as refused:
        raise _invalid("url", str(refused)) from None


async def _check_subscriber(db: Db, user_id: uuid.UUID) -> None:
    row = await db.first(SUBSCRIBER, {"user_id": user_id})
    if row is None:
        raise _invalid("user_id", "no user with this id")
    if not row["active"]:
        raise _invalid("user_id", "the user is not active")
    if Role(row["role"]) not in CASE_READERS:
        raise _invalid("user_id", f"the {row['role']} role cannot read cases")


async def create_endpoint(
    db: Db,
    actor: Actor,
    data: WebhookCreate,
    now: datetime,
    *,
    secret_key: str,
    allow_private: bool,
) -> dict[str, Any]:
    """A new active endpoint, with its secret (shown here and on rotation only)."""
    policy.require(actor, Permission.manage_webhooks)
    await _check_subscriber(db, data.user_id)
    await _check_url(data.url, allow_private)
    secret = webhook_signing.new_secret()
    row = await db.one(
        INSERT_ENDPOINT,
        {
            "id": uuid7(),
            "user_id": data.user_id,
            "url": data.url,
            "actions": stored_actions(data.actions),
            "description": data.description,
            "active": True,
            "secret": webhook_signing.seal(secret, secret_key),
            "created_at": now,
            "updated_at": now,
        },
    )
    return endpoint_view(row) | {"secret": secret}


async def list_endpoints(
    db: Db, actor: Actor, *, limit: int, cursor: str | None
) -> Page[dict[str, Any]]:
    policy.require(actor, Permission.manage_webhooks)
    return await pagination.page_by_id(
        db, ENDPOINT_PAGE, limit=limit, cursor=cursor, view=endpoint_view
    )


async def get_endpoint(db: Db, actor: Actor, endpoint_id: uuid.UUID) -> dict[str, Any]:
    policy.require(actor, Permission.manage_webhooks)
    row = await db.first(ENDPOINT_BY_ID, {"endpoint_id": endpoint_id})
    if row is None:
        raise NotFound("No webhook endpoint with this id.")
    return endpoint_view(row)


async def update_endpoint(
    db: Db,
    actor: Actor,
    endpoint_id: uuid.UUID,
    data: WebhookUpdate,
    now: datetime,
    *,
    allow_private: bool,
) -> dict[str, Any]:
    """Change what is given. Setting ``active`` again after a 410 (or a pause) resumes the
    pending messages, in their order."""
    await get_endpoint(db, actor, endpoint_id)
    given = data.model_fields_set
    values: dict[str, Any] = {"updated_at": now}
    if data.url is not None:
        await _check_url(data.url, allow_private)
        values["url"] = data.url
    if "actions" in given:
        values["actions"] = stored_actions(data.actions)
    if data.active is not None:
        values["active"] = data.active
    if "description" in given:
        values["description"] = data.description
    return endpoint_view(await db.one(UPDATE_ENDPOINT, {**values, "endpoint_key": endpoint_id}))


async def delete_endpoint(db: Db, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """The endpoint and its messages (sent or not)."""
    await get_endpoint(db, actor, endpoint_id)
    await db.run(DELETE_MESSAGES, {"endpoint_id": endpoint_id})
    await db.run(DELETE_ENDPOINT, {"endpoint_id": endpoint_id})


async def rotate_secret(
    db: Db, actor: Actor, endpoint_id: uuid.UUID, now: datetime, *, secret_key: str
) -> str:
    """A new secret; the old one signs nothing from now on (each attempt reads the row)."""
    await get_endpoint(db, actor, endpoint_id)
    secret = webhook_signing.new_secret()
    sealed = webhook_signing.seal(secret, secret_key)
    await db.one(
        UPDATE_ENDPOINT, {"secret": sealed, "updated_at": now, "endpoint_key": endpoint_id}
    )
    return secret


def delivery_view(row: Any) -> dict[str, Any]:
    view = dict(row)
    view["type"] = f"case.{view.pop('action')}"
    return view


async def list_deliveries(
    db: Db, actor: Actor, endpoint_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[dict[str, Any]]:
    """Newest first (by event), one page after another."""
    await get_endpoint(db, actor, endpoint_id)
    before = pagination.decode_int(cursor)
    rows = await db.all(
        DELIVERY_PAGE,
        {"endpoint_id": endpoint_id, "before": before or _NO_EVENT_YET, "page_size": limit + 1},
    )
    page = [delivery_view(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(
        items=page, next_cursor=pagination.encode_int(page[-1]["event_id"]) if more else None
    )


async def retry_delivery(
    db: Db, actor: Actor, endpoint_id: uuid.UUID, message_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """A failed message is due again now, with the same id; its attempts keep counting."""
    await get_endpoint(db, actor, endpoint_id)
    found = await db.first(DELIVERY_BY_ID, {"endpoint_id": endpoint_id, "message_id": message_id})
    if found is None:
        raise NotFound("No delivery with this id for this endpoint.")
    changed = await db.run(
        RETRY, {"endpoint_key": endpoint_id, "message_key": message_id, "due": now}
    )
    if not changed:
        raise Conflict(f"Only a failed message can be retried; this one is {found['status']}.")
    return delivery_view(
        await db.one(DELIVERY_BY_ID, {"endpoint_id": endpoint_id, "message_id": message_id})
    )
