"""The one function that moves a case through the state machine (models/lifecycle.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import InvalidTransition
from app.models import Submission, TransitStay
from app.models.lifecycle import available_actions, step_for
from app.models.record import CaseRecord, Row
from app.schemas.transitions import Transition
from app.services import funnel_rollup, history, policy
from app.services.actions import HANDLERS
from app.services.policy import Actor
from app.services.records import check_if_match, load_record, write_case
from app.vocabulary import Action, CaseStatus


def _invalid(record: CaseRecord, action: Action) -> InvalidTransition:
    allowed = available_actions(record.status, record.snapshot())
    return InvalidTransition(
        f"{action} is not available for a case in status {record.status}. "
        f"Allowed now: {', '.join(allowed) if allowed else 'none'}."
    )


async def apply_transition(
    conn: AsyncConnection,
    actor: Actor,
    case_id: uuid.UUID,
    command: Transition,
    if_match: str | None,
    now: datetime,
) -> CaseRecord:
    """404 invisible → 403 not allowed → 428/412 If-Match → 409 state and rules → write."""
    record = await load_record(conn, actor, case_id, for_update=True)
    action = Action(command.action)
    policy.authorize_action(actor, action, record)
    check_if_match(if_match, record.case["version"])
    status = record.status
    step = step_for(status, action, record.snapshot())
    if step is None:
        raise _invalid(record, action)
    effect = HANDLERS[action](record, command, actor, now)

    to_status = step.to or CaseStatus(record.case["status_before_close"])
    case_values: dict[str, Any] = {
        **effect.case,
        "status": to_status,
        "status_before_close": status if to_status is CaseStatus.closed else None,
    }
    case_row = await write_case(conn, record.case, case_values, now)
    submissions, stays = list(record.submissions), list(record.stays)
    if effect.new_submission is not None:
        submissions.append(await _insert(conn, Submission, effect.new_submission))
    if effect.submission_update is not None:
        submissions[-1] = await _update(conn, Submission, submissions[-1], effect.submission_update)
    if effect.new_stay is not None:
        stays.append(await _insert(conn, TransitStay, effect.new_stay))
    if effect.stay_update is not None:
        stays[-1] = await _update(conn, TransitStay, stays[-1], effect.stay_update)
    await history.record_event(
        conn,
        case_id=case_id,
        actor=actor,
        action=action,
        from_status=status,
        to_status=to_status,
        payload={key: value for key, value in effect.payload.items() if value is not None},
        now=now,
        resettlement_country=effect.resettlement_country,
        transit_country=effect.transit_country,
    )
    after = CaseRecord(case=case_row, members=record.members, submissions=submissions, stays=stays)
    await funnel_rollup.record_change(conn, record, after)
    return after


async def _insert(conn: AsyncConnection, model: Any, values: dict[str, Any]) -> Row:
    table = model.__table__
    result = await conn.execute(insert(table).values(values).returning(*table.columns))
    return result.mappings().one()


async def _update(conn: AsyncConnection, model: Any, row: Row, values: dict[str, Any]) -> Row:
    table = model.__table__
    result = await conn.execute(
        update(table).where(table.c.id == row["id"]).values(values).returning(*table.columns)
    )
    return result.mappings().one()
