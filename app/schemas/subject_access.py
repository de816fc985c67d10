"""The subject access answer (domain.md "Subject access"): everything held about one member,
as one document."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.schemas.case_views import CaseFieldsView, MemberView, StayView, SubmissionView
from app.schemas.events import EventView
from app.vocabulary import AccessAction, Role


class Read(BaseModel):
    """One read of the case: when, what kind, and who — the role and country of the reader,
    and its username only for UNHCR staff (null for officers of states and transit
    countries)."""

    at: datetime
    action: AccessAction
    role: Role
    country: str | None
    username: str | None


class SubjectAccess(BaseModel):
    """The member's fields; the case's own fields (not the other members'); the submissions
    and stays (which states and transit countries received the data, and when); the case's
    events; and every read of the case recorded in the access log, oldest first."""

    member: MemberView
    case: CaseFieldsView
    submissions: list[SubmissionView]
    transit_stays: list[StayView]
    events: list[EventView]
    reads: list[Read]
