"""The outbox: a webhook message row written in the same transaction as each case event, for
every active endpoint that wants the event's action and whose user may see the event — the
scope of ``GET /cases/{id}/events`` (``policy.event_visible_to_user``). A rolled-back write
leaves no message; an event nobody subscribed to writes none."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Insert, bindparam, insert, literal, or_, select

from app.db import Db, SqlDialect
from app.models import Case, CaseEvent, User, WebhookEndpoint, WebhookMessage
from app.services import policy
from app.vocabulary import WebhookStatus


def stored_actions(actions: list[str] | None) -> str | None:
    """An endpoint's ``actions`` as stored: ``,decide,submit,`` (one LIKE finds an action)."""
    return None if actions is None else "," + ",".join(actions) + ","


def listed_actions(stored: str | None) -> list[str] | None:
    return None if stored is None else stored.strip(",").split(",")


@cache
def _outbox(dialect: SqlDialect) -> Insert:
    """One INSERT … SELECT per event: with no endpoint at all it finds nothing to write."""
    endpoint, event = WebhookEndpoint.__table__, CaseEvent.__table__
    chosen = (
        select(
            dialect.random_uuid(),
            endpoint.c.id,
            event.c.id,
            event.c.case_id,
            literal(WebhookStatus.pending.value),
            literal(0),
            event.c.at,
            event.c.at,
        )
        .select_from(
            endpoint.join(User, User.id == endpoint.c.user_id)
            .join(event, event.c.id == bindparam("of_event"))
            .join(Case, Case.id == event.c.case_id)
        )
        .where(
            endpoint.c.active.is_(True),
            or_(endpoint.c.actions.is_(None), endpoint.c.actions.like(bindparam("wanted"), "\\")),
            policy.event_visible_to_user(),
        )
    )
    message = WebhookMessage.__table__.c
    return insert(WebhookMessage).from_select(
        [
            message.id,
            message.endpoint_id,
            message.event_id,
            message.case_id,
            message.status,
            message.attempts,
            message.created_at,
            message.next_attempt_at,
        ],
        chosen,
    )


async def write_outbox(db: Db, event_id: int, action: str) -> None:
    """The messages of a new event, in the caller's transaction."""
    escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    await db.run(_outbox(db.dialect), {"of_event": event_id, "wanted": f"%,{escaped},%"})
