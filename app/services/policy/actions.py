"""Who may take which action on a case they can see, and who may do the rest: one table
(``ACTION_RULES``) with a row per action beside the permissions of the other operations."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.errors import Forbidden
from app.models.record import CaseRecord
from app.vocabulary import Action, Role


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
    read_reports = "read_reports"
    read_access_log = "read_access_log"
    manage_users = "manage_users"


UNHCR = frozenset({Role.caseworker, Role.supervisor})
CASE_READERS = UNHCR | {Role.resettlement_officer, Role.transit_officer}

#: role × action: who may take each action on a case they can see, and who may do the rest.
ALLOWED: Mapping[Action | Permission, frozenset[Role]] = {
    Permission.create_case: UNHCR,
    Permission.update_case: UNHCR,
    Permission.read_cases: CASE_READERS,
    Permission.read_reports: CASE_READERS | {Role.manager},
    Permission.read_access_log: frozenset({Role.supervisor, Role.admin}),
    Permission.manage_users: frozenset({Role.admin}),
    Action.start_assessment: UNHCR,
    Action.request_review: UNHCR,
    Action.return_to_assessment: frozenset({Role.supervisor}),
    Action.submit: frozenset({Role.supervisor}),
    Action.decide: frozenset({Role.resettlement_officer}),
    Action.resubmit: frozenset({Role.supervisor}),
    Action.withdraw_submission: frozenset({Role.supervisor}),
    Action.request_transit: UNHCR,
    Action.authorise_transit: frozenset({Role.transit_officer}),
    Action.refuse_transit: frozenset({Role.transit_officer}),
    Action.record_transit_entry: frozenset({Role.transit_officer}),
    Action.extend_transit: frozenset({Role.transit_officer}),
    Action.record_departure: UNHCR | {Role.transit_officer},
    Action.confirm_arrival: frozenset({Role.supervisor, Role.resettlement_officer}),
    Action.close: frozenset({Role.supervisor}),
    Action.reopen: frozenset({Role.supervisor}),
}


def _latest_submission_country(record: CaseRecord) -> str | None:
    submission = record.latest_submission
    return submission["resettlement_country"] if submission else None


def _latest_stay_country(record: CaseRecord) -> str | None:
    stay = record.latest_stay
    return stay["transit_country"] if stay else None


#: An officer acts only for its own country: the country of the case's latest submission or
#: latest stay (the one the action is about) must be the officer's. Judged on the latest one
#: whatever its status, so the officer of that country learns from a 409 that the action is
#: not available now (a departure already recorded, a stay already exited), not a 403.
OFFICER_SUBJECT: Mapping[Action, Callable[[CaseRecord], str | None]] = {
    Action.decide: _latest_submission_country,
    Action.confirm_arrival: _latest_submission_country,
    Action.authorise_transit: _latest_stay_country,
    Action.refuse_transit: _latest_stay_country,
    Action.record_transit_entry: _latest_stay_country,
    Action.extend_transit: _latest_stay_country,
    Action.record_departure: _latest_stay_country,
}


def allowed(actor: Actor, what: Action | Permission) -> bool:
    return actor.role in ALLOWED[what]


def require(actor: Actor, what: Action | Permission) -> None:
    if not allowed(actor, what):
        raise Forbidden(f"The {actor.role} role may not {_describe(what)}.")


def authorize_action(actor: Actor, action: Action, record: CaseRecord) -> None:
    """Raise Forbidden unless this actor may take this action on this (visible) case."""
    require(actor, action)
    if actor.role in (Role.resettlement_officer, Role.transit_officer):
        subject = OFFICER_SUBJECT.get(action)
        if subject is None or subject(record) != actor.country:
            raise Forbidden(f"Only the officer of the country concerned may {action}.")


def _describe(what: Action | Permission) -> str:
    return str(what).replace("_", " ")
