"""One typed row per table a service reads by column name, so mypy catches a misspelt column
(tests/test_rows.py keeps each in step with its table). Rows read from the database are
records or dicts keyed by these names; these types only describe them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, TypedDict

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
    StayStatus,
    SubmissionStatus,
    WebhookStatus,
    WithdrawalReason,
)


class CaseRow(TypedDict):
    id: uuid.UUID
    reference: str
    origin_country: str
    pathway: Pathway
    status: CaseStatus
    status_before_close: CaseStatus | None
    processing_priority: Priority
    referral_source: str | None
    protection_summary: str | None
    member_count: int
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
    updated_at: datetime
    version: int
    split_from: uuid.UUID | None
    split_into: list[str] | None
    legal_hold: bool
    erased_at: datetime | None


class MemberRow(TypedDict):
    case_id: uuid.UUID
    position: int
    is_principal: bool
    given_name: str
    family_name: str
    sex: Sex
    date_of_birth: date
    dob_estimated: bool
    nationality: str
    relationship: str
    document_number: str | None
    id: uuid.UUID
    identified_at: date
    first_submitted_at: date | None
    transit_entered_at: date | None
    resettled_at: date | None


class SubmissionRow(TypedDict):
    id: uuid.UUID
    case_id: uuid.UUID
    sequence: int
    resettlement_country: str
    submission_priority: Priority
    primary_category: Category
    secondary_category: Category
    status: SubmissionStatus
    submitted_at: datetime
    submitted_by: uuid.UUID
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    decision_reason: str | None
    withdrawn_at: datetime | None
    withdrawal_reason: WithdrawalReason | None
    accepted_members: list[str] | None
    split: bool


class StayRow(TypedDict):
    id: uuid.UUID
    case_id: uuid.UUID
    transit_country: str
    status: StayStatus
    requested_at: datetime
    requested_by: uuid.UUID
    authorised_at: datetime | None
    authorisation_note: str | None
    refused_at: datetime | None
    refusal_reason: str | None
    entered_at: date | None
    authorised_until: date | None
    exited_at: date | None
    exit_reason: ExitReason | None


class InformationRequestRow(TypedDict):
    id: int
    case_id: uuid.UUID
    submission_id: uuid.UUID
    asked_at: datetime
    asked_by: uuid.UUID
    question: str | None
    answered_at: datetime | None
    answered_by: uuid.UUID | None
    answer: str | None


class RequirementRow(TypedDict):
    submission_id: uuid.UUID
    item: RequirementItem
    case_id: uuid.UUID
    position: int
    status: RequirementStatus
    due_on: date | None
    done_on: date | None
    note: str | None
    note_role: Role | None
    updated_at: datetime | None
    updated_by: uuid.UUID | None


class EventRow(TypedDict):
    id: int
    case_id: uuid.UUID
    at: datetime
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    user_id: uuid.UUID
    role: Role
    resettlement_country: str | None
    transit_country: str | None
    payload: dict[str, Any]
    hash: str
    payload_digest: str | None


class UserRow(TypedDict):
    id: uuid.UUID
    username: str
    password_hash: str
    role: Role
    country: str | None
    active: bool
    token_generation: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointRow(TypedDict):
    id: uuid.UUID
    user_id: uuid.UUID
    url: str
    actions: str | None
    description: str | None
    active: bool
    secret: str
    created_at: datetime
    updated_at: datetime


class WebhookMessageRow(TypedDict):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: int
    case_id: uuid.UUID
    status: WebhookStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    next_attempt_at: datetime | None


class SealRow(TypedDict):
    id: int
    at: datetime
    first_id: int
    last_id: int
    count: int
    last_event_id: int
    root: str
    prev: str


#: The row type of each table, for the test that keeps them in step.
ROW_TYPES: dict[str, type] = {
    "cases": CaseRow,
    "members": MemberRow,
    "submissions": SubmissionRow,
    "transit_stays": StayRow,
    "information_requests": InformationRequestRow,
    "departure_requirements": RequirementRow,
    "case_events": EventRow,
    "seals": SealRow,
    "users": UserRow,
    "webhook_endpoints": WebhookEndpointRow,
    "webhook_messages": WebhookMessageRow,
}
