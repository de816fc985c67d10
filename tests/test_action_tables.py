"""The action tables without a database: every action is complete in every table, the
sub-machines agree with the state machine, and the literal policy table (domain.md "Actions")
holds for the policy function itself — fast, beside the HTTP matrix (test_policy_matrix.py)."""

from __future__ import annotations

import typing
import uuid
from typing import Any, cast, get_args

import pytest

from app.errors import Forbidden
from app.models.lifecycle import (
    NEW_STAY,
    NEW_SUBMISSION,
    STAY_TRANSITIONS,
    SUBMISSION_TRANSITIONS,
    TRANSITIONS,
)
from app.models.record import CaseRecord
from app.models.rows import StayRow
from app.schemas.transitions import Transition
from app.services import policy
from app.services.actions import HANDLERS
from app.services.policy import ACTION_RULES, Actor
from app.vocabulary import Action, RequirementItem, Role


def _schema_actions() -> set[str]:
    union = get_args(Transition)[0]
    return {
        get_args(model.model_fields["action"].annotation)[0] for model in typing.get_args(union)
    }


def test_every_action_is_in_every_table() -> None:
    actions = set(Action)
    assert set(ACTION_RULES) == actions, "policy row"
    assert set(HANDLERS) == actions, "handler"
    assert _schema_actions() == {str(a) for a in actions}, "request schema"
    assert {action for _, action in TRANSITIONS} == actions, "state machine row"


def test_sub_machine_actions_exist_in_the_state_machine() -> None:
    moving = {a for _, a in SUBMISSION_TRANSITIONS} | {a for _, a in STAY_TRANSITIONS}
    assert moving | set(NEW_SUBMISSION) | set(NEW_STAY) <= {a for _, a in TRANSITIONS}
    # An action starts a new submission or stay, or moves the latest one, never both.
    assert not set(NEW_SUBMISSION) & {a for _, a in SUBMISSION_TRANSITIONS}
    assert not set(NEW_STAY) & {a for _, a in STAY_TRANSITIONS}


def test_only_refuse_transit_leaves_the_callers_scope() -> None:
    assert {a for a in Action if policy.leaves_scope(a)} == {Action.refuse_transit}


# The record below: latest submission to USA, latest stay in CRI.
# Columns: caseworker, supervisor, resettlement officer USA, resettlement officer CAN,
#          transit officer CRI, transit officer PAN, manager, admin.
# fmt: off
POLICY = {
    "start_assessment":     "ok  ok  403 403 403 403 403 403",
    "request_review":       "ok  ok  403 403 403 403 403 403",
    "return_to_assessment": "403 ok  403 403 403 403 403 403",
    "submit":               "403 ok  403 403 403 403 403 403",
    "decide":               "403 403 ok  403 403 403 403 403",
    "resubmit":             "403 ok  403 403 403 403 403 403",
    "withdraw_submission":  "403 ok  403 403 403 403 403 403",
    "request_transit":      "ok  ok  403 403 403 403 403 403",
    "authorise_transit":    "403 403 403 403 ok  403 403 403",
    "refuse_transit":       "403 403 403 403 ok  403 403 403",
    "record_transit_entry": "403 403 403 403 ok  403 403 403",
    "extend_transit":       "403 403 403 403 ok  403 403 403",
    "record_departure":     "ok  ok  403 403 ok  403 403 403",
    "confirm_arrival":      "403 ok  ok  403 403 403 403 403",
    "close":                "403 ok  403 403 403 403 403 403",
    "reopen":               "403 ok  403 403 403 403 403 403",
    "split_case":           "403 ok  403 403 403 403 403 403",
    "provide_information":  "ok  ok  403 403 403 403 403 403",
    "update_requirement":   "ok  ok  ok  403 403 403 403 403",  # medical_clearance
    "set_legal_hold":       "403 ok  403 403 403 403 403 403",
}

# update_requirement, role × item (domain.md "Departure arrangements"), on the record below
# (the transit officer of the active stay's country, CRI, is the one that may touch
# exit_permit); same columns as POLICY.
ITEMS = {
    "medical_clearance":    "ok  ok  ok  403 403 403 403 403",
    "security_clearance":   "ok  ok  ok  403 403 403 403 403",
    "exit_permit":          "ok  ok  403 403 ok  403 403 403",
    "travel_document":      "ok  ok  ok  403 403 403 403 403",
    "cultural_orientation": "ok  ok  403 403 403 403 403 403",
    "travel_booked":        "ok  ok  ok  403 403 403 403 403",
}
# fmt: on
ACTORS = (
    (Role.caseworker, None),
    (Role.supervisor, None),
    (Role.resettlement_officer, "USA"),
    (Role.resettlement_officer, "CAN"),
    (Role.transit_officer, "CRI"),
    (Role.transit_officer, "PAN"),
    (Role.manager, None),
    (Role.admin, None),
)


def _record() -> CaseRecord:
    """Only the fields the policy reads (a partial row: the policy must not need more)."""
    case: Any = {"id": uuid.uuid4(), "drafted_by": None, "status": "submitted"}
    submission: Any = {"resettlement_country": "USA", "status": "pending", "sequence": 1}
    stay: Any = {"transit_country": "CRI", "status": "requested"}
    return CaseRecord(case=case, submissions=[submission], stays=[stay])


def test_the_literal_table_covers_every_action() -> None:
    assert set(POLICY) == {str(a) for a in Action}


def _outcome(actor: Actor, action: Action, record: CaseRecord, item: Any = None) -> str:
    try:
        policy.authorize_action(actor, action, record, item)
        return "ok"
    except Forbidden:
        return "403"


@pytest.mark.parametrize("action", list(Action))
def test_policy_function_against_the_literal_table(action: Action) -> None:
    record = _record()
    item = RequirementItem.medical_clearance if action is Action.update_requirement else None
    for (role, country), expected in zip(ACTORS, POLICY[action].split(), strict=True):
        actor = Actor(id=uuid.uuid4(), username="x", role=role, country=country)
        assert _outcome(actor, action, record, item) == expected, (action, role, country)


def test_requirement_items_against_the_literal_table() -> None:
    assert set(ITEMS) == {str(item) for item in RequirementItem}
    record = _record()
    for item, row in ITEMS.items():
        for (role, country), expected in zip(ACTORS, row.split(), strict=True):
            actor = Actor(id=uuid.uuid4(), username="x", role=role, country=country)
            got = _outcome(actor, Action.update_requirement, record, RequirementItem(item))
            assert got == expected, (item, role, country)


def test_an_exited_stay_gives_its_transit_officer_no_item() -> None:
    record = _record()
    record.stays[-1] = cast(StayRow, {"transit_country": "CRI", "status": "exited"})
    cri = Actor(id=uuid.uuid4(), username="x", role=Role.transit_officer, country="CRI")
    outcome = _outcome(cri, Action.update_requirement, record, RequirementItem.exit_permit)
    assert outcome == "403"
