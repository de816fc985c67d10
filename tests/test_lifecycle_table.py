"""Every (status × action) pair, over HTTP, against domain.md's actions table.

For each case state (a status, with the sub-states of its latest submission and stay that the
table's "from" column depends on) every action is tried by a user whose role the
table allows: a legal pair moves the case where the table says, adds one event and one version;
an illegal pair answers 409 ``invalid_transition`` listing the allowed actions, and changes
nothing. An officer-only action on a case outside every officer's scope answers 404 instead
(api.md: 404 comes before 409). The expected answers come from tests/lifecycle_helpers.py,
written from the contract, not from the service's own state-machine table.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.vocabulary import CaseStatus
from tests.factories import Factory
from tests.lifecycle_helpers import (
    ACTIONS,
    SCENARIOS,
    Driver,
    action_words,
    actor_for,
    conflicts,
    fields_for,
    legal_actions,
    make_cast,
    next_status,
    sees,
)


@pytest.fixture
def client(checklist_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The pair table runs on the service with its default departure checklist."""
    return checklist_client


def test_every_action_is_covered() -> None:
    """Each action of the table is legal in at least one scenario and illegal in another."""
    # Checked on the scenarios' declared states, so a missing scenario shows up here.
    legal_somewhere = {
        action
        for scenario in SCENARIOS.values()
        for action in legal_actions(
            _declared(scenario.expect, scenario.pathway, scenario.open_split)
        )
    }
    assert legal_somewhere == set(ACTIONS)
    statuses = {scenario.expect[0] for scenario in SCENARIOS.values()}
    assert statuses == set(CaseStatus)


def _declared(
    expect: tuple[str, str | None, str | None], pathway: str, open_split: bool = False
) -> dict[str, Any]:
    status, sub, stay = expect
    accepted = ["a"] if open_split else ["a", "b"]
    return {
        "status": status,
        "pathway": pathway,
        "members": [{"id": "a"}, {"id": "b"}],
        "submissions": [
            {"status": sub, "resettlement_country": "USA", "accepted_members": accepted}
        ]
        if sub
        else [],
        "transit_stays": [{"status": stay, "transit_country": "CRI"}] if stay else [],
    }


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_pairs(client: httpx.AsyncClient, make: Factory, name: str) -> None:
    cast = await make_cast(make)
    drive = Driver(client, make, cast)
    scenario = SCENARIOS[name]
    case = await drive.build(name)
    legal = legal_actions(case)
    events_before = await drive.events(case["id"])
    failures: list[str] = []

    # Illegal pairs: 409 invalid_transition (or 404 out of scope), nothing changes.
    for action in ACTIONS:
        if action in legal:
            continue
        actor = actor_for(cast, action, case)
        response = await drive.post(
            actor, case["id"], action, case["version"], **fields_for(action, case)
        )
        body = response.json() if response.content else {}
        if not sees(actor, case):
            if response.status_code != 404 or body.get("code") != "not_found":
                failures.append(f"{action} by {actor.role}: {response.status_code} {body}")
            continue
        if response.status_code != 409 or body.get("code") != "invalid_transition":
            failures.append(
                f"{action}: expected 409 invalid_transition, {response.status_code} {body}"
            )
            continue
        listed = action_words(body.get("detail") or "") - {action}
        if listed != legal:
            failures.append(f"{action}: detail lists {sorted(listed)}, allowed {sorted(legal)}")

    after = await drive.get(case["id"])
    assert after["version"] == case["version"], "an illegal action changed the version"
    assert after == case, "an illegal action changed the case"
    assert await drive.events(case["id"]) == events_before, "an illegal action added an event"

    # Legal pairs: the table's next status, one new version, one new event.
    for index, action in enumerate(sorted(legal)):
        fresh = case if index == 0 else await drive.build(name)
        actor = actor_for(cast, action, fresh)
        before = await drive.events(fresh["id"])
        response = await drive.post(
            actor, fresh["id"], action, fresh["version"], **fields_for(action, fresh)
        )
        if conflicts(action, fresh):  # available, but its rule fails: nothing changes
            code = response.json().get("code") if response.content else None
            if response.status_code != 409 or code != "conflict":
                failures.append(f"{action}: expected 409 conflict, {response.status_code}")
            if await drive.get(fresh["id"]) != fresh:
                failures.append(f"{action}: a refused action changed the case")
            continue
        expected_code = 204 if action == "refuse_transit" else 200
        if response.status_code != expected_code:
            failures.append(f"legal {action}: {response.status_code} {response.text}")
            continue
        now = await drive.get(fresh["id"])
        to = next_status(action, fresh, scenario.before_close)
        if now["status"] != to:
            failures.append(f"legal {action}: status {now['status']}, table says {to}")
        if now["version"] != fresh["version"] + 1:
            failures.append(f"legal {action}: version {fresh['version']} → {now['version']}")
        new = (await drive.events(fresh["id"]))[len(before) :]
        shape = [(e["action"], e["from_status"], e["to_status"]) for e in new]
        if shape != [(action, fresh["status"], to)]:
            failures.append(f"legal {action}: new events {shape}")

    assert not failures, f"{name}:\n  " + "\n  ".join(failures)
