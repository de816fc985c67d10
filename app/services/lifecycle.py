"""The one function that moves a case through the state machine (models/lifecycle.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Update, bindparam, insert, select, update

from app.db import Db, Row
from app.errors import InvalidTransition
from app.models import Submission, TransitStay
from app.models.lifecycle import (
    NEW_STAY,
    NEW_SUBMISSION,
    available_actions,
    next_stay_status,
    next_submission_status,
    step_for,
)
from app.models.record import CaseRecord
from app.models.rows import StayRow, SubmissionRow
from app.schemas.transitions import NamesMembers, Transition
from app.services import departure, funnel_rollup, history, members, policy, splits
from app.services.actions import CHECKS, HANDLERS, Effect
from app.services.policy import Actor
from app.services.records import check_if_match, load_record, write_case
from app.vocabulary import Action, CaseStatus, RequirementItem


def _invalid(record: CaseRecord, action: Action) -> InvalidTransition:
    allowed = available_actions(record.status, record.snapshot())
    return InvalidTransition(
        f"{action} is not available for a case in status {record.status}. "
        f"Allowed now: {', '.join(allowed) if allowed else 'none'}."
    )


def _status_before_close(record: CaseRecord) -> CaseStatus:
    before = record.case["status_before_close"]
    if before is None:  # closing always records it
        raise RuntimeError("a closed case without the status before closing")
    return CaseStatus(before)


def _before_close(record: CaseRecord, to_status: CaseStatus) -> CaseStatus | None:
    """The status a closed case goes back to on reopening: the one it was closed from (an
    action that leaves a closed case closed, such as ``set_legal_hold``, keeps it)."""
    if to_status is not CaseStatus.closed:
        return None
    return _status_before_close(record) if record.status is CaseStatus.closed else record.status


async def apply_transition(
    db: Db,
    actor: Actor,
    case_id: uuid.UUID,
    command: Transition,
    if_match: str | None,
    now: datetime,
    *,
    checklist: Sequence[RequirementItem],
) -> CaseRecord:
    """422 an item not configured → 404 invisible → 403 not allowed → 428/412 If-Match → 422
    the request against the case's data → 409 state and rules → write. ``checklist``: the
    departure requirements an acceptance starts (PTA_DEPARTURE_REQUIREMENTS)."""
    departure.check_configured(command, checklist)
    record = await load_record(db, actor, case_id, for_update=True)
    action = Action(command.action)
    policy.authorize_action(actor, action, record, getattr(command, "item", None))
    if action in policy.FOUR_EYES_ACTIONS:
        changed = await history.changed_since_review(db, case_id)
        policy.check_four_eyes(actor, action, record, changed)
    check_if_match(if_match, record.case["version"])
    if isinstance(command, NamesMembers):
        field, ids = command.named_members()
        members.check_current(record, ids, field)
    check = CHECKS.get(action)
    if check is not None:
        check(record, command)
    status = record.status
    step = step_for(status, action, record.snapshot())
    if step is None:
        raise _invalid(record, action)
    effect = HANDLERS[action](record, command, actor, now)

    to_status = step.to or _status_before_close(record)
    case_values: dict[str, Any] = {
        **effect.case,
        "status": to_status,
        "status_before_close": _before_close(record, to_status),
    }
    case_row = await write_case(db, record.case, case_values, now)
    member_rows = record.members
    if effect.split is not None:
        member_rows = await splits.split_off(db, actor, record, effect.split, now)
    member_rows = await members.reach_milestones(db, record.case, case_row, member_rows)
    submissions = await _move_submission(db, record, action, effect)
    stays = await _move_stay(db, record, action, effect)
    await history.record_event(
        db,
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
    after = replace(
        record, case=case_row, members=member_rows, submissions=submissions, stays=stays
    )
    after = await departure.write(db, record, after, effect, checklist, actor, now)
    await funnel_rollup.record_change(db, record, after)
    return after


async def _move_submission(
    db: Db, record: CaseRecord, action: Action, effect: Effect
) -> list[SubmissionRow]:
    """The submission sub-machine's step: a new submission, or the latest one moved on."""
    submissions = list(record.submissions)
    if effect.new_submission is not None:
        new = {**effect.new_submission, "status": NEW_SUBMISSION[action]}
        submissions.append(cast(SubmissionRow, await _insert(db, Submission, new)))
        return submissions
    current = record.snapshot().submission
    to = next_submission_status(current, action, effect.submission_choice)
    if to is not None:
        changes = {**(effect.submission_update or {}), "status": to}
        changed = await _update_latest(db, Submission, record.case["id"], changes)
        submissions[-1] = cast(SubmissionRow, changed)
    return submissions


async def _move_stay(db: Db, record: CaseRecord, action: Action, effect: Effect) -> list[StayRow]:
    """The stay sub-machine's step: a new stay, or the latest one moved on."""
    stays = list(record.stays)
    if effect.new_stay is not None:
        new = {**effect.new_stay, "status": NEW_STAY[action]}
        stays.append(cast(StayRow, await _insert(db, TransitStay, new)))
        return stays
    to = next_stay_status(record.snapshot().stay, action)
    if to is not None:
        changes = {**(effect.stay_update or {}), "status": to}
        stays[-1] = cast(StayRow, await _update_latest(db, TransitStay, record.case["id"], changes))
    return stays


def _writes(model: Any, *latest_first: Any) -> tuple[Insert, Update]:
    """Insert a row, or update the case's latest one (the row an effect is about); the
    columns come with the parameters."""
    table = model.__table__
    latest = (
        select(table.c.id)
        .where(table.c.case_id == bindparam("of_case"))
        .order_by(*latest_first)
        .limit(1)
        .scalar_subquery()
    )
    return (
        insert(table).returning(*table.columns),
        update(table).where(table.c.id == latest).returning(*table.columns),
    )


WRITES = {
    Submission: _writes(Submission, Submission.sequence.desc()),
    TransitStay: _writes(TransitStay, TransitStay.requested_at.desc(), TransitStay.id.desc()),
}


async def _insert(db: Db, model: Any, values: dict[str, Any]) -> Row:
    return await db.one(WRITES[model][0], values)


async def _update_latest(db: Db, model: Any, case_id: uuid.UUID, values: dict[str, Any]) -> Row:
    return await db.one(WRITES[model][1], {**values, "of_case": case_id})
