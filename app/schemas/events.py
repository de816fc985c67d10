"""A case event as the caller may see it: officers get payloads cut to their view's fields,
without free text written by another role."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.schemas.case_views import case_view_for
from app.vocabulary import UNHCR_ROLES, CaseStatus, Role

FREE_TEXT = frozenset({"reason", "note"})

#: UNHCR roles see the whole payload; each officer role the keys below; any other role none.
WHOLE_PAYLOAD = UNHCR_ROLES
EVENT_PAYLOAD_FIELDS: Mapping[Role, frozenset[str]] = {
    Role.resettlement_officer: frozenset(
        {
            "reference",
            "origin_country",
            "pathway",
            "changed",
            "resettlement_country",
            "submission_priority",
            "primary_category",
            "secondary_category",
            "decision",
            "reason",
            "accepted_members",
            "split",
            "members",
            "transit_country",
            "entered_at",
            "authorised_until",
            "departed_at",
            "arrived_at",
            "answer",
            "item",
            "status",
            "due_on",
            "done_on",
            "note",
        }
    ),
    Role.transit_officer: frozenset(
        {
            "reference",
            "origin_country",
            "changed",
            "transit_country",
            "entered_at",
            "authorised_until",
            "departed_at",
            "arrived_at",
            "note",
            "reason",
            "members",
            "item",
            "status",
            "due_on",
            "done_on",
        }
    ),
}


class EventView(BaseModel):
    id: int
    at: datetime
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    user_id: uuid.UUID
    role: Role
    payload: dict[str, Any]
    #: the chain (domain.md "Tamper-evident history"): SHA-256 over the previous event's hash
    #: and this event's content
    hash: str


def event_payload_for(viewer: Role, author: Role, payload: Mapping[str, Any]) -> dict[str, Any]:
    if viewer in WHOLE_PAYLOAD:
        return dict(payload)
    keep = EVENT_PAYLOAD_FIELDS.get(viewer, frozenset())
    cut = {
        key: value
        for key, value in payload.items()
        if key in keep and (key not in FREE_TEXT or author == viewer)
    }
    if "changed" in cut:
        visible = case_view_for(viewer).model_fields
        cut["changed"] = [name for name in cut["changed"] if name in visible]
    return cut
