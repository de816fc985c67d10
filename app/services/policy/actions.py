"""Who may take which action on a case they can see, and who may do the rest: one table
(``ACTION_RULES``) with a row per action beside the permissions of the other operations."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.errors import Forbidden
from app.models.record import CaseRecord
from app.vocabulary import ACTIVE_STAY, Action, RequirementItem, Role, SubmissionStatus


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the database says now (never as a token claims)."""

    id: uuid.UUID
    username: str
    role: Role
    country: str | None = None


class Permission(StrEnum):
    create_case = "create_case"
    update_case = "update_case"
    read_cases = "read_cases"
    find_duplicates = "find_duplicates"
    read_reports = "read_reports"
    read_access_log = "read_access_log"
    subject_access = "subject_access"
    manage_users = "manage_users"
    manage_webhooks = "manage_webhooks"


UNHCR = frozenset({Role.caseworker, Role.supervisor})
CASE_READERS = UNHCR | {Role.resettlement_officer, Role.transit_officer}

#: Who may do the operations that are not lifecycle actions.
PERMISSIONS: Mapping[Permission, frozenset[Role]] = {
    Permission.create_case: UNHCR,
    Permission.update_case: UNHCR,
    Permission.read_cases: CASE_READERS,
    Permission.find_duplicates: UNHCR,
    Permission.read_reports: CASE_READERS | {Role.manager},
    Permission.read_access_log: frozenset({Role.supervisor, Role.admin}),
    Permission.subject_access: frozenset({Role.supervisor}),
    Permission.manage_users: frozenset({Role.admin}),
    Permission.manage_webhooks: frozenset({Role.admin}),
}


def latest_submission_country(record: CaseRecord) -> str | None:
    submission = record.latest_submission
    return submission["resettlement_country"] if submission else None


def latest_stay_country(record: CaseRecord) -> str | None:
    stay = record.latest_stay
    return stay["transit_country"] if stay else None


def accepting_country(record: CaseRecord) -> str | None:
    """The state whose acceptance the case's departure arrangements follow."""
    submission = record.latest_submission
    accepted = submission is not None and submission["status"] == SubmissionStatus.accepted
    return submission["resettlement_country"] if accepted and submission else None


def active_stay_country(record: CaseRecord) -> str | None:
    stay = record.latest_stay
    return stay["transit_country"] if stay and stay["status"] in ACTIVE_STAY else None


@dataclass(frozen=True)
class ItemRule:
    """Which departure requirements a role may update, and for an officer the country it must
    hold: the state of the case's latest submission (the accepting state, once it accepts),
    or the country of the case's active stay."""

    items: frozenset[RequirementItem]
    officer_country: Callable[[CaseRecord], str | None] | None = None


#: ``update_requirement``: role × item (domain.md "Departure arrangements"). Anyone else who
#: can see the case gets 403.
REQUIREMENT_RULES: Mapping[Role, ItemRule] = {
    Role.caseworker: ItemRule(frozenset(RequirementItem)),
    Role.supervisor: ItemRule(frozenset(RequirementItem)),
    Role.resettlement_officer: ItemRule(
        frozenset(
            {
                RequirementItem.medical_clearance,
                RequirementItem.security_clearance,
                RequirementItem.travel_document,
                RequirementItem.travel_booked,
            }
        ),
        officer_country=latest_submission_country,  # 409 until it is accepted
    ),
    Role.transit_officer: ItemRule(
        frozenset({RequirementItem.exit_permit}), officer_country=active_stay_country
    ),
}


@dataclass(frozen=True)
class ActionRule:
    """Who may take one lifecycle action on a case they can see.

    ``officer_country``: an officer acts only for its own country — the country of the case's
    latest submission or latest stay (the one the action is about) must be the officer's.
    Judged on the latest one whatever its status, so the officer of that country learns from a
    409 that the action is not available now (a departure already recorded), not a 403. An
    action without it is never an officer's.
    ``leaves_scope``: taking it removes the case from the caller's scope, so the answer is 204
    with no body (a refused stay is not the transit officer's case any more).
    ``items``: the action is about one departure requirement (the command's ``item``); who may
    touch which item, and the officer's country, come from that role × item table instead.
    """

    roles: frozenset[Role]
    officer_country: Callable[[CaseRecord], str | None] | None = None
    leaves_scope: bool = False
    items: Mapping[Role, ItemRule] | None = None


SUPERVISOR = frozenset({Role.supervisor})
TRANSIT_OFFICER = frozenset({Role.transit_officer})

#: role × action, one row per action.
ACTION_RULES: Mapping[Action, ActionRule] = {
    Action.start_assessment: ActionRule(UNHCR),
    Action.request_review: ActionRule(UNHCR),
    Action.return_to_assessment: ActionRule(SUPERVISOR),
    Action.submit: ActionRule(SUPERVISOR),
    Action.decide: ActionRule(
        frozenset({Role.resettlement_officer}), officer_country=latest_submission_country
    ),
    Action.resubmit: ActionRule(SUPERVISOR),
    Action.withdraw_submission: ActionRule(SUPERVISOR),
    Action.request_transit: ActionRule(UNHCR),
    Action.authorise_transit: ActionRule(TRANSIT_OFFICER, officer_country=latest_stay_country),
    Action.refuse_transit: ActionRule(
        TRANSIT_OFFICER, officer_country=latest_stay_country, leaves_scope=True
    ),
    Action.record_transit_entry: ActionRule(TRANSIT_OFFICER, officer_country=latest_stay_country),
    Action.extend_transit: ActionRule(TRANSIT_OFFICER, officer_country=latest_stay_country),
    Action.record_departure: ActionRule(
        UNHCR | TRANSIT_OFFICER, officer_country=latest_stay_country
    ),
    Action.confirm_arrival: ActionRule(
        SUPERVISOR | {Role.resettlement_officer}, officer_country=latest_submission_country
    ),
    Action.close: ActionRule(SUPERVISOR),
    Action.reopen: ActionRule(SUPERVISOR),
    Action.split_case: ActionRule(SUPERVISOR),
    Action.provide_information: ActionRule(UNHCR),
    Action.update_requirement: ActionRule(frozenset(REQUIREMENT_RULES), items=REQUIREMENT_RULES),
    Action.set_legal_hold: ActionRule(SUPERVISOR),
}


def roles_for(what: Action | Permission) -> frozenset[Role]:
    return ACTION_RULES[what].roles if isinstance(what, Action) else PERMISSIONS[what]


def allowed(actor: Actor, what: Action | Permission) -> bool:
    return actor.role in roles_for(what)


def require(actor: Actor, what: Action | Permission) -> None:
    if not allowed(actor, what):
        raise Forbidden(f"The {actor.role} role may not {_describe(what)}.")


def leaves_scope(action: Action) -> bool:
    """Whether taking this action removes the case from the caller's scope (answer 204)."""
    return ACTION_RULES[action].leaves_scope


def authorize_action(
    actor: Actor, action: Action, record: CaseRecord, item: RequirementItem | None = None
) -> None:
    """Raise Forbidden unless this actor may take this action on this (visible) case
    (``item``: the departure requirement an ``update_requirement`` is about)."""
    require(actor, action)
    rule = ACTION_RULES[action]
    subject = rule.officer_country
    if rule.items is not None:
        item_rule = rule.items[actor.role]
        if item not in item_rule.items:
            raise Forbidden(f"The {actor.role} role may not update the {item} requirement.")
        subject = item_rule.officer_country
    officer = actor.role in (Role.resettlement_officer, Role.transit_officer)
    if officer and (subject is None or subject(record) != actor.country):
        raise Forbidden(f"Only the officer of the country concerned may {action}.")


def _describe(what: Action | Permission) -> str:
    return str(what).replace("_", " ")
