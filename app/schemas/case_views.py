"""A case as each role may see it. The view is chosen by role (``CASE_VIEWS``); a view keeps
only its own fields, so a field a role must not see cannot leak through it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from app.vocabulary import (
    CaseStatus,
    Category,
    ClosureReason,
    ExitReason,
    Pathway,
    Priority,
    RequirementItem,
    RequirementStatus,
    Role,
    Sex,
    Stage,
    StayStatus,
    SubmissionStatus,
    WithdrawalReason,
)


class View(BaseModel):
    """A role's view of a record. Its fields decide what leaves the service: ``render`` keeps
    exactly them, at every depth (a nested view, optional or in a list, renders its own
    fields only), without re-validating trusted rows. A field not typed as a view never
    carries a mapping: one arriving there is a leak in the making and raises."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def render(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _render_value(data[name], nested) for name, nested in _layout(cls)}


def _render_value(value: Any, nested: type[View] | None) -> Any:
    if value is None:
        return None
    if nested is not None:
        if isinstance(value, Mapping):
            return nested.render(value)
        return [nested.render(item) for item in value]
    if isinstance(value, Mapping) or (
        isinstance(value, list | tuple) and any(isinstance(item, Mapping) for item in value)
    ):
        raise TypeError("a record reached a field not declared as a view")
    return value


def _nested_view(annotation: Any) -> type[View] | None:
    """The view inside ``SomeView``, ``SomeView | None`` or ``list[SomeView]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, View):
        return annotation
    if get_origin(annotation) in (list, Union, UnionType):
        for arg in get_args(annotation):
            found = _nested_view(arg)
            if found is not None:
                return found
    return None


@cache
def _layout(view: type[View]) -> tuple[tuple[str, type[View] | None], ...]:
    """Each field of a view, with the view of its value or items when it holds views."""
    return tuple((name, _nested_view(f.annotation)) for name, f in view.model_fields.items())


# Members -------------------------------------------------------------------------------------
class MemberTransitView(View):
    """Biodata a transit country needs at its border."""

    id: uuid.UUID
    given_name: str
    family_name: str
    sex: Sex
    date_of_birth: date
    nationality: str
    document_number: str | None


class MemberView(MemberTransitView):
    is_principal: bool
    dob_estimated: bool
    relationship: str


# Submissions ---------------------------------------------------------------------------------
class InformationRequestView(View):
    """A state's question and UNHCR's answer, as that state and UNHCR see them alike."""

    asked_at: datetime
    question: str | None
    answered_at: datetime | None
    answer: str | None


class LiveSubmissionTransitView(View):
    resettlement_country: str
    status: SubmissionStatus
    accepted_members: list[uuid.UUID] | None
    split: bool


class SubmissionStateView(LiveSubmissionTransitView):
    id: uuid.UUID
    sequence: int
    submission_priority: Priority
    primary_category: Category
    secondary_category: Category
    submitted_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    information_requests: list[InformationRequestView]


class SubmissionView(SubmissionStateView):
    submitted_by: uuid.UUID
    decided_by: uuid.UUID | None
    withdrawn_at: datetime | None
    withdrawal_reason: WithdrawalReason | None


# Transit stays -------------------------------------------------------------------------------
class StayStateView(View):
    id: uuid.UUID
    transit_country: str
    status: StayStatus
    requested_at: datetime
    authorised_at: datetime | None
    refused_at: datetime | None
    entered_at: date | None
    authorised_until: date | None
    exited_at: date | None
    exit_reason: ExitReason | None


class StayView(StayStateView):
    authorisation_note: str | None
    refusal_reason: str | None


# Departure arrangements ----------------------------------------------------------------------
class DepartureRequirementView(View):
    """One checklist item; ``note`` is null for an officer where another role wrote it."""

    item: RequirementItem
    status: RequirementStatus
    due_on: date | None
    done_on: date | None
    overdue: bool
    note: str | None


# Cases ---------------------------------------------------------------------------------------
class CaseBaseView(View):
    id: uuid.UUID
    reference: str
    origin_country: str
    status: CaseStatus
    stage: Stage
    version: int
    updated_at: datetime


class CaseTransitView(CaseBaseView):
    """Transit officer: who is coming, their stays here, where they go next."""

    members: list[MemberTransitView]
    submissions: list[LiveSubmissionTransitView]
    transit_stays: list[StayView]
    departure_requirements: list[DepartureRequirementView]


class CaseResettlementView(CaseBaseView):
    """Resettlement officer: its own submissions only, no referral source or internal notes."""

    pathway: Pathway
    protection_summary: str | None
    previously_submitted_elsewhere: bool
    members: list[MemberView]
    submissions: list[SubmissionStateView]
    transit_stays: list[StayStateView]
    departure_requirements: list[DepartureRequirementView]


class CaseFieldsView(CaseBaseView):
    """UNHCR's view of a case's own fields and checklist (a subject access answer gives the
    members, submissions and stays beside it)."""

    pathway: Pathway
    processing_priority: Priority
    referral_source: str | None
    protection_summary: str | None
    identified_at: date
    first_submitted_at: date | None
    transit_entered_at: date | None
    departed_at: date | None
    resettled_at: date | None
    closed_at: datetime | None
    closure_reason: ClosureReason | None
    created_by: uuid.UUID
    drafted_by: uuid.UUID | None
    created_at: datetime
    split_from: uuid.UUID | None
    split_into: list[uuid.UUID]
    legal_hold: bool
    erased_at: datetime | None
    departure_requirements: list[DepartureRequirementView]


class CaseView(CaseFieldsView):
    """UNHCR caseworkers and supervisors: everything."""

    members: list[MemberView]
    submissions: list[SubmissionView]
    transit_stays: list[StayView]


AnyCaseView = CaseView | CaseResettlementView | CaseTransitView


class NoCaseView(CaseBaseView):
    """Whoever has no view of cases (managers, admins, a role added later) gets nothing."""

    @classmethod
    def render(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {}


#: The view each role gets. Managers and admins see no case records at all.
CASE_VIEWS: Mapping[Role, type[CaseBaseView]] = {
    Role.caseworker: CaseView,
    Role.supervisor: CaseView,
    Role.resettlement_officer: CaseResettlementView,
    Role.transit_officer: CaseTransitView,
}


def case_view_for(role: Role) -> type[CaseBaseView]:
    """The view of this role; a role without one sees nothing (fail closed)."""
    return CASE_VIEWS.get(role, NoCaseView)
