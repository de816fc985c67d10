"""A loaded case turned into the view of the caller's role (schemas/case_views.py), with only
the submissions, stays and narrative the policy lets that role see."""

from __future__ import annotations

from typing import Any

from app.models.lifecycle import STAGE_OF_STATUS
from app.models.record import CaseRecord
from app.models.rows import SubmissionRow
from app.schemas.case_views import case_view_for
from app.schemas.common import today
from app.services import departure, policy
from app.services.policy import Actor
from app.vocabulary import CaseStatus


def case_fields(actor: Actor, record: CaseRecord) -> dict[str, Any]:
    """Every field of the case that this actor may see; the view schema keeps its own."""
    case = record.case
    fields = dict(case)
    fields["stage"] = STAGE_OF_STATUS[CaseStatus(case["status"])]
    fields["members"] = record.members
    fields["split_into"] = case["split_into"] or []
    fields["submissions"] = _with_questions(record, policy.visible_submissions(actor, record))
    fields["transit_stays"] = policy.visible_stays(actor, record)
    if not policy.sees_protection_summary(actor, record):
        fields["protection_summary"] = None
    fields["previously_submitted_elsewhere"] = policy.submitted_elsewhere(actor, record)
    fields["departure_requirements"] = departure_requirements(actor, record)
    return fields


def _with_questions(record: CaseRecord, submissions: list[SubmissionRow]) -> list[dict[str, Any]]:
    """Each submission with its requests for information (oldest first)."""
    return [
        {
            **submission,
            "information_requests": [
                q for q in record.information_requests if q["submission_id"] == submission["id"]
            ],
        }
        for submission in submissions
    ]


def departure_requirements(actor: Actor, record: CaseRecord) -> list[dict[str, Any]]:
    """The checklist of the case's accepted submission as this actor may see it."""
    if not policy.sees_departure_requirements(actor, record):
        return []
    day = today()
    return [
        {
            **row,
            "overdue": departure.is_overdue(row, day),
            "note": row["note"] if policy.sees_note(actor, row["note_role"]) else None,
        }
        for row in departure.current_checklist(record)
    ]


def present_case(actor: Actor, record: CaseRecord) -> dict[str, Any]:
    """The case as the caller's role sees it, ready for JSON."""
    return case_view_for(actor.role).render(case_fields(actor, record))
