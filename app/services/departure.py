"""Requests for information and departure arrangements: the rules of the checklist an accepted
submission starts (pure functions of the loaded case), and the writes of both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Insert, Update, and_, bindparam, insert, update

from app.db import Db
from app.errors import Conflict, ValidationFailed
from app.models import DepartureRequirement, InformationRequest
from app.models.record import CaseRecord
from app.models.rows import InformationRequestRow, RequirementRow
from app.schemas import transitions as t
from app.services.policy import Actor
from app.vocabulary import (
    REQUIREMENT_SETTLED,
    RequirementItem,
    RequirementStatus,
    SubmissionStatus,
)


# Rules ---------------------------------------------------------------------------------------
def current_checklist(record: CaseRecord) -> list[RequirementRow]:
    """The checklist of the case's accepted submission (none while the latest submission is
    not accepted: earlier checklists stay in the history)."""
    submission = record.latest_submission
    if submission is None or submission["status"] != SubmissionStatus.accepted:
        return []
    return [row for row in record.requirements if row["submission_id"] == submission["id"]]


def is_overdue(row: RequirementRow, today: date) -> bool:
    return row["status"] == RequirementStatus.pending and (
        row["due_on"] is not None and row["due_on"] < today
    )


def check_configured(command: Any, configured: Sequence[RequirementItem]) -> None:
    """422 for an ``update_requirement`` item the service is not configured to track (judged
    on the request alone, before the case is looked up)."""
    if isinstance(command, t.UpdateRequirement) and command.item not in configured:
        listed = ", ".join(configured) or "none"
        raise ValidationFailed(
            f"item: {command.item} is not a departure requirement here (PTA_DEPARTURE_"
            f"REQUIREMENTS: {listed}).",
            [
                {
                    "loc": ["body", "item"],
                    "msg": "not in PTA_DEPARTURE_REQUIREMENTS",
                    "type": "value_error",
                }
            ],
        )


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def updated_item(record: CaseRecord, command: t.UpdateRequirement) -> dict[str, Any] | None:
    """The item as the command leaves it, checked for consistency (422): ``done`` needs a
    ``done_on`` (sent now or already recorded), ``waived`` a ``note`` (likewise), and
    ``done_on`` belongs to ``done`` alone (back to pending or waived clears it). None when the
    case has no checklist with this item (the state machine then answers 409)."""
    row = next((r for r in current_checklist(record) if r["item"] == command.item), None)
    if row is None:
        return None
    given = command.model_fields_set
    status = command.status or RequirementStatus(row["status"])
    done_on = command.done_on if "done_on" in given else row["done_on"]
    note = command.note if "note" in given else row["note"]
    if status is not RequirementStatus.done:
        if "done_on" in given:
            raise _invalid("done_on", f"a done_on goes with status done, not {status}")
        done_on = None
    elif done_on is None:
        raise _invalid("done_on", "status done needs a done_on (the day it was done)")
    if status is RequirementStatus.waived and note is None:
        raise _invalid("note", "status waived needs a note (why it is waived)")
    return {
        "status": status,
        "due_on": command.due_on if "due_on" in given else row["due_on"],
        "done_on": done_on,
        "note": note,
    }


def check_requirement(record: CaseRecord, command: t.UpdateRequirement) -> None:
    updated_item(record, command)


def check_departure_arrangements(record: CaseRecord) -> None:
    """``record_departure`` needs every item of the checklist done or waived (409 naming the
    open ones)."""
    open_items = [
        row["item"] for row in current_checklist(record) if row["status"] not in REQUIREMENT_SETTLED
    ]
    if open_items:
        raise Conflict(
            "The departure arrangements are not complete: "
            f"{', '.join(open_items)} still pending (update_requirement: done or waived)."
        )


# Writes --------------------------------------------------------------------------------------
INSERT_QUESTION: Insert = insert(InformationRequest).returning(*InformationRequest.__table__.c)
ANSWER_QUESTIONS: Update = (
    update(InformationRequest)
    .where(
        and_(
            InformationRequest.submission_id == bindparam("of_submission"),
            InformationRequest.answered_at.is_(None),
        )
    )
    .returning(*InformationRequest.__table__.c)
)
INSERT_REQUIREMENTS: Insert = insert(DepartureRequirement)
UPDATE_REQUIREMENT: Update = (
    update(DepartureRequirement)
    .where(
        DepartureRequirement.submission_id == bindparam("of_submission"),
        DepartureRequirement.item == bindparam("of_item"),
    )
    .returning(*DepartureRequirement.__table__.c)
)


async def write(
    db: Db,
    before: CaseRecord,
    after: CaseRecord,
    effect: Any,
    configured: Sequence[RequirementItem],
    actor: Actor,
    now: datetime,
) -> CaseRecord:
    """What an action's effect does to the requests for information and the checklist of the
    case's latest submission (``after``: the case with its submissions already moved)."""
    submission = after.latest_submission
    if submission is None:
        return after
    questions, requirements = list(before.information_requests), list(before.requirements)
    if effect.question is not None:
        row = {
            "case_id": submission["case_id"],
            "submission_id": submission["id"],
            "asked_at": now,
            "asked_by": actor.id,
            "question": effect.question,
        }
        questions.append(cast(InformationRequestRow, await db.one(INSERT_QUESTION, row)))
    if effect.answer is not None:
        answered = {
            row["id"]: row
            for row in await db.all(
                ANSWER_QUESTIONS,
                {
                    "of_submission": submission["id"],
                    "answered_at": now,
                    "answered_by": actor.id,
                    "answer": effect.answer,
                },
            )
        }
        questions = [cast(InformationRequestRow, answered.get(row["id"], row)) for row in questions]
    if effect.start_checklist and configured:
        fresh: list[dict[str, Any]] = [
            {
                "submission_id": submission["id"],
                "item": item,
                "case_id": submission["case_id"],
                "position": position,
                "status": RequirementStatus.pending,
            }
            for position, item in enumerate(configured, start=1)
        ]
        await db.run_many(INSERT_REQUIREMENTS, fresh)
        empty = {"due_on": None, "done_on": None, "note": None, "note_role": None}
        unsaid = {"updated_at": None, "updated_by": None}
        requirements += [cast(RequirementRow, {**row, **empty, **unsaid}) for row in fresh]
    if effect.requirement is not None:
        values = dict(effect.requirement)
        item = values.pop("item")
        changed = await db.one(
            UPDATE_REQUIREMENT,
            {
                **values,
                "updated_at": now,
                "updated_by": actor.id,
                "of_submission": submission["id"],
                "of_item": item,
            },
        )
        requirements = [
            cast(RequirementRow, changed)
            if row["submission_id"] == submission["id"] and row["item"] == item
            else row
            for row in requirements
        ]
    return replace(after, information_requests=questions, requirements=requirements)
