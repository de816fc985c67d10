"""The domain's closed vocabularies (UNHCR Resettlement Handbook terms) and country codes."""

from __future__ import annotations

from enum import StrEnum

import pycountry

#: ISO 3166-1 alpha-3 codes, from pycountry's copy of the ISO tables.
COUNTRY_CODES: frozenset[str] = frozenset(country.alpha_3 for country in pycountry.countries)


class Role(StrEnum):
    caseworker = "caseworker"
    supervisor = "supervisor"
    resettlement_officer = "resettlement_officer"
    transit_officer = "transit_officer"
    manager = "manager"
    admin = "admin"


#: Roles bound to one country (their resettlement state or transit country).
COUNTRY_ROLES = frozenset({Role.resettlement_officer, Role.transit_officer})
UNHCR_ROLES = frozenset({Role.caseworker, Role.supervisor})


class CaseStatus(StrEnum):
    identified = "identified"
    assessment = "assessment"
    pending_review = "pending_review"
    submitted = "submitted"
    in_transit = "in_transit"
    departed = "departed"
    resettled = "resettled"
    closed = "closed"


class Stage(StrEnum):
    identification = "identification"
    submission = "submission"
    transit = "transit"
    resettlement = "resettlement"
    closed = "closed"


class Pathway(StrEnum):
    transit = "transit"
    in_country = "in_country"


class Priority(StrEnum):
    emergency = "emergency"
    urgent = "urgent"
    normal = "normal"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class SubmissionStatus(StrEnum):
    pending = "pending"
    on_hold = "on_hold"
    accepted = "accepted"
    denied = "denied"
    withdrawn = "withdrawn"
    information_requested = "information_requested"


#: A submission the resettlement state is still working on, or has accepted.
LIVE_SUBMISSION = frozenset(
    {
        SubmissionStatus.pending,
        SubmissionStatus.on_hold,
        SubmissionStatus.accepted,
        SubmissionStatus.information_requested,
    }
)


class Category(StrEnum):
    legal_physical_protection_needs = "legal_physical_protection_needs"
    survivors_violence_torture = "survivors_violence_torture"
    medical_needs = "medical_needs"
    women_girls_at_risk = "women_girls_at_risk"
    family_reunification = "family_reunification"
    children_adolescents_at_risk = "children_adolescents_at_risk"
    lack_of_alternative_durable_solutions = "lack_of_alternative_durable_solutions"


class Decision(StrEnum):
    accepted = "accepted"
    denied = "denied"
    on_hold = "on_hold"
    information_requested = "information_requested"


class WithdrawalReason(StrEnum):
    error = "error"
    applicant_request = "applicant_request"
    exceptional = "exceptional"


class StayStatus(StrEnum):
    requested = "requested"
    authorised = "authorised"
    refused = "refused"
    in_transit = "in_transit"
    exited = "exited"


#: A stay that blocks another request: it may still lead to (or is) a stay in the country.
ACTIVE_STAY = frozenset({StayStatus.requested, StayStatus.authorised, StayStatus.in_transit})


class ExitReason(StrEnum):
    departed_to_resettlement = "departed_to_resettlement"
    case_closed = "case_closed"


class ClosureReason(StrEnum):
    not_recommended = "not_recommended"
    withdrawn_by_applicant = "withdrawn_by_applicant"
    denied_no_resubmission = "denied_no_resubmission"
    lost_contact = "lost_contact"
    deceased = "deceased"
    onward_movement = "onward_movement"
    no_longer_at_risk = "no_longer_at_risk"
    transit_expired = "transit_expired"
    other = "other"


class Action(StrEnum):
    start_assessment = "start_assessment"
    request_review = "request_review"
    return_to_assessment = "return_to_assessment"
    submit = "submit"
    decide = "decide"
    resubmit = "resubmit"
    withdraw_submission = "withdraw_submission"
    request_transit = "request_transit"
    authorise_transit = "authorise_transit"
    refuse_transit = "refuse_transit"
    record_transit_entry = "record_transit_entry"
    extend_transit = "extend_transit"
    record_departure = "record_departure"
    confirm_arrival = "confirm_arrival"
    close = "close"
    reopen = "reopen"
    split_case = "split_case"
    provide_information = "provide_information"
    update_requirement = "update_requirement"
    set_legal_hold = "set_legal_hold"


class RequirementItem(StrEnum):
    """The pre-departure checklist's items (UNHCR Resettlement Handbook 4.11), in order."""

    medical_clearance = "medical_clearance"
    security_clearance = "security_clearance"
    exit_permit = "exit_permit"
    travel_document = "travel_document"
    cultural_orientation = "cultural_orientation"
    travel_booked = "travel_booked"


class RequirementStatus(StrEnum):
    pending = "pending"
    done = "done"
    waived = "waived"


#: A departure requirement that no longer holds a departure back.
REQUIREMENT_SETTLED = frozenset({RequirementStatus.done, RequirementStatus.waived})


class WebhookStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class AccessAction(StrEnum):
    view = "view"
    list = "list"
    events = "events"
    export = "export"
    report = "report"
    subject_access = "subject_access"


class FunnelStage(StrEnum):
    identified = "identified"
    submitted = "submitted"
    in_transit = "in_transit"
    resettled = "resettled"


class DuplicateReason(StrEnum):
    """Why a member of another case may be the same person, strongest first (domain.md)."""

    document_number = "document_number"
    name_and_date_of_birth = "name_and_date_of_birth"
    similar_name_and_birth_year = "similar_name_and_birth_year"
