"""A loaded case turned into the view of the caller's role (schemas/case_views.py), with only
the submissions, stays and narrative the policy lets that role see."""

from __future__ import annotations

from typing import Any

from app.models.lifecycle import STAGE_OF_STATUS
from app.models.record import CaseRecord
from app.schemas.case_views import case_view_for
from app.services import policy
from app.services.policy import Actor
from app.vocabulary import CaseStatus


def case_fields(actor: Actor, record: CaseRecord) -> dict[str, Any]:
    """Every field of the case that this actor may see; the view schema keeps its own."""
    case = record.case
    fields = dict(case)
    fields["stage"] = STAGE_OF_STATUS[CaseStatus(case["status"])]
    fields["members"] = record.members
    fields["split_into"] = case["split_into"] or []
    fields["submissions"] = policy.visible_submissions(actor, record)
    fields["transit_stays"] = policy.visible_stays(actor, record)
    if not policy.sees_protection_summary(actor, record):
        fields["protection_summary"] = None
    fields["previously_submitted_elsewhere"] = policy.submitted_elsewhere(actor, record)
    return fields


def present_case(actor: Actor, record: CaseRecord) -> dict[str, Any]:
    """The case as the caller's role sees it, ready for JSON."""
    return case_view_for(actor.role).render(case_fields(actor, record))
