"""The access policy as a literal table (domain.md, "Actions" and "Roles"), checked over HTTP:
every role × every action × each case situation → ok (neither 403 nor 404: the request got
past the access checks and may then be 200, 204 or 409), 403, or 404.

For ``list`` the cell says whether the case is in the caller's list: ok = listed, 404 = absent
(200 without it), 403 = the list itself is refused; ``search`` says the same of a search by the
case's reference and by its members' names (``q``), which must agree with each other.

The officers under test are the resettlement officer of USA and the transit officer of CRI.
The situations (every case is on the transit pathway, built by a caseworker and a supervisor):
- not_submitted: pending review, no submission yet;
- submitted_here: submitted to USA (pending), no transit stay;
- submitted_elsewhere: submitted to CAN (pending), no transit stay;
- in_transit_here: submitted to USA (pending), in transit in CRI;
- in_transit_elsewhere: submitted to USA (pending), in transit in PAN;
- closed: was in transit in CRI and submitted to USA, then closed (the submission withdrawn,
  the stay exited).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.access_helpers import ROLES, SUBMISSION, Builder, Json, without
from tests.common import days, make_cast
from tests.factories import Factory

SITUATIONS = (
    "not_submitted",
    "submitted_here",
    "submitted_elsewhere",
    "in_transit_here",
    "in_transit_elsewhere",
    "closed",
)

# fmt: off
# Columns: not_submitted, submitted_here, submitted_elsewhere, in_transit_here,
#          in_transit_elsewhere, closed.
TABLE: dict[str, dict[str, str]] = {
    "caseworker": {
        "start_assessment":     "ok  ok  ok  ok  ok  ok",
        "request_review":       "ok  ok  ok  ok  ok  ok",
        "return_to_assessment": "403 403 403 403 403 403",
        "submit":               "403 403 403 403 403 403",
        "decide":               "403 403 403 403 403 403",
        "resubmit":             "403 403 403 403 403 403",
        "withdraw_submission":  "403 403 403 403 403 403",
        "request_transit":      "ok  ok  ok  ok  ok  ok",
        "authorise_transit":    "403 403 403 403 403 403",
        "refuse_transit":       "403 403 403 403 403 403",
        "record_transit_entry": "403 403 403 403 403 403",
        "extend_transit":       "403 403 403 403 403 403",
        "record_departure":     "ok  ok  ok  ok  ok  ok",
        "confirm_arrival":      "403 403 403 403 403 403",
        "close":                "403 403 403 403 403 403",
        "reopen":               "403 403 403 403 403 403",
        "split_case":           "403 403 403 403 403 403",
        "read":                 "ok  ok  ok  ok  ok  ok",
        "list":                 "ok  ok  ok  ok  ok  ok",
        "events":               "ok  ok  ok  ok  ok  ok",
        "patch":                "ok  ok  ok  ok  ok  ok",
        "set_legal_hold":       "403 403 403 403 403 403",
        "subject_access":       "403 403 403 403 403 403",
        "search":               "ok  ok  ok  ok  ok  ok",
        "duplicates":           "ok  ok  ok  ok  ok  ok",
    },
    "supervisor": {
        "start_assessment":     "ok  ok  ok  ok  ok  ok",
        "request_review":       "ok  ok  ok  ok  ok  ok",
        "return_to_assessment": "ok  ok  ok  ok  ok  ok",
        "submit":               "ok  ok  ok  ok  ok  ok",
        "decide":               "403 403 403 403 403 403",
        "resubmit":             "ok  ok  ok  ok  ok  ok",
        "withdraw_submission":  "ok  ok  ok  ok  ok  ok",
        "request_transit":      "ok  ok  ok  ok  ok  ok",
        "authorise_transit":    "403 403 403 403 403 403",
        "refuse_transit":       "403 403 403 403 403 403",
        "record_transit_entry": "403 403 403 403 403 403",
        "extend_transit":       "403 403 403 403 403 403",
        "record_departure":     "ok  ok  ok  ok  ok  ok",
        "confirm_arrival":      "ok  ok  ok  ok  ok  ok",
        "close":                "ok  ok  ok  ok  ok  ok",
        "reopen":               "ok  ok  ok  ok  ok  ok",
        "split_case":           "ok  ok  ok  ok  ok  ok",
        "read":                 "ok  ok  ok  ok  ok  ok",
        "list":                 "ok  ok  ok  ok  ok  ok",
        "events":               "ok  ok  ok  ok  ok  ok",
        "patch":                "ok  ok  ok  ok  ok  ok",
        "set_legal_hold":       "ok  ok  ok  ok  ok  ok",
        "subject_access":       "ok  ok  ok  ok  ok  ok",
        "search":               "ok  ok  ok  ok  ok  ok",
        "duplicates":           "ok  ok  ok  ok  ok  ok",
    },
    "resettlement_officer": {
        "start_assessment":     "404 403 404 403 403 403",
        "request_review":       "404 403 404 403 403 403",
        "return_to_assessment": "404 403 404 403 403 403",
        "submit":               "404 403 404 403 403 403",
        "decide":               "404 ok  404 ok  ok  ok",
        "resubmit":             "404 403 404 403 403 403",
        "withdraw_submission":  "404 403 404 403 403 403",
        "request_transit":      "404 403 404 403 403 403",
        "authorise_transit":    "404 403 404 403 403 403",
        "refuse_transit":       "404 403 404 403 403 403",
        "record_transit_entry": "404 403 404 403 403 403",
        "extend_transit":       "404 403 404 403 403 403",
        "record_departure":     "404 403 404 403 403 403",
        "confirm_arrival":      "404 ok  404 ok  ok  ok",
        "close":                "404 403 404 403 403 403",
        "reopen":               "404 403 404 403 403 403",
        "split_case":           "404 403 404 403 403 403",
        "read":                 "404 ok  404 ok  ok  ok",
        "list":                 "404 ok  404 ok  ok  ok",
        "events":               "404 ok  404 ok  ok  ok",
        "patch":                "404 403 404 403 403 403",
        "set_legal_hold":       "404 403 404 403 403 403",
        "subject_access":       "404 403 404 403 403 403",
        "search":               "404 ok  404 ok  ok  ok",
        "duplicates":           "404 403 404 403 403 403",
    },
    "transit_officer": {
        "start_assessment":     "404 404 404 403 404 403",
        "request_review":       "404 404 404 403 404 403",
        "return_to_assessment": "404 404 404 403 404 403",
        "submit":               "404 404 404 403 404 403",
        "decide":               "404 404 404 403 404 403",
        "resubmit":             "404 404 404 403 404 403",
        "withdraw_submission":  "404 404 404 403 404 403",
        "request_transit":      "404 404 404 403 404 403",
        "authorise_transit":    "404 404 404 ok  404 ok",
        "refuse_transit":       "404 404 404 ok  404 ok",
        "record_transit_entry": "404 404 404 ok  404 ok",
        "extend_transit":       "404 404 404 ok  404 ok",
        "record_departure":     "404 404 404 ok  404 ok",
        "confirm_arrival":      "404 404 404 403 404 403",
        "close":                "404 404 404 403 404 403",
        "reopen":               "404 404 404 403 404 403",
        "split_case":           "404 404 404 403 404 403",
        "read":                 "404 404 404 ok  404 ok",
        "list":                 "404 404 404 ok  404 ok",
        "events":               "404 404 404 ok  404 ok",
        "patch":                "404 404 404 403 404 403",
        "set_legal_hold":       "404 404 404 403 404 403",
        "subject_access":       "404 404 404 403 404 403",
        "search":               "404 404 404 ok  404 ok",
        "duplicates":           "404 404 404 403 404 403",
    },
    "manager": {
        "start_assessment":     "404 404 404 404 404 404",
        "request_review":       "404 404 404 404 404 404",
        "return_to_assessment": "404 404 404 404 404 404",
        "submit":               "404 404 404 404 404 404",
        "decide":               "404 404 404 404 404 404",
        "resubmit":             "404 404 404 404 404 404",
        "withdraw_submission":  "404 404 404 404 404 404",
        "request_transit":      "404 404 404 404 404 404",
        "authorise_transit":    "404 404 404 404 404 404",
        "refuse_transit":       "404 404 404 404 404 404",
        "record_transit_entry": "404 404 404 404 404 404",
        "extend_transit":       "404 404 404 404 404 404",
        "record_departure":     "404 404 404 404 404 404",
        "confirm_arrival":      "404 404 404 404 404 404",
        "close":                "404 404 404 404 404 404",
        "reopen":               "404 404 404 404 404 404",
        "split_case":           "404 404 404 404 404 404",
        "read":                 "404 404 404 404 404 404",
        "list":                 "403 403 403 403 403 403",
        "events":               "404 404 404 404 404 404",
        "patch":                "404 404 404 404 404 404",
        "set_legal_hold":       "404 404 404 404 404 404",
        "subject_access":       "404 404 404 404 404 404",
        "search":               "403 403 403 403 403 403",
        "duplicates":           "404 404 404 404 404 404",
    },
    "admin": {
        "start_assessment":     "404 404 404 404 404 404",
        "request_review":       "404 404 404 404 404 404",
        "return_to_assessment": "404 404 404 404 404 404",
        "submit":               "404 404 404 404 404 404",
        "decide":               "404 404 404 404 404 404",
        "resubmit":             "404 404 404 404 404 404",
        "withdraw_submission":  "404 404 404 404 404 404",
        "request_transit":      "404 404 404 404 404 404",
        "authorise_transit":    "404 404 404 404 404 404",
        "refuse_transit":       "404 404 404 404 404 404",
        "record_transit_entry": "404 404 404 404 404 404",
        "extend_transit":       "404 404 404 404 404 404",
        "record_departure":     "404 404 404 404 404 404",
        "confirm_arrival":      "404 404 404 404 404 404",
        "close":                "404 404 404 404 404 404",
        "reopen":               "404 404 404 404 404 404",
        "split_case":           "404 404 404 404 404 404",
        "read":                 "404 404 404 404 404 404",
        "list":                 "403 403 403 403 403 403",
        "events":               "404 404 404 404 404 404",
        "patch":                "404 404 404 404 404 404",
        "set_legal_hold":       "404 404 404 404 404 404",
        "subject_access":       "404 404 404 404 404 404",
        "search":               "403 403 403 403 403 403",
        "duplicates":           "404 404 404 404 404 404",
    },
}
# fmt: on

#: A valid body for each action (422 comes before 404 and 403, so bodies must be valid).
BODIES: dict[str, Json] = {
    "start_assessment": {},
    "request_review": {},
    "return_to_assessment": {"reason": "The risk assessment is incomplete."},
    "submit": {"resettlement_country": "AUS", **SUBMISSION},
    "decide": {"decision": "accepted"},
    "resubmit": {"resettlement_country": "AUS", **SUBMISSION},
    "withdraw_submission": {"reason": "error"},
    "request_transit": {"transit_country": "CRI"},
    "authorise_transit": {},
    "refuse_transit": {"reason": "No capacity this month."},
    "record_transit_entry": {"entered_at": days(0)},
    "extend_transit": {"authorised_until": days(400)},
    "record_departure": {"departed_at": days(0)},
    "confirm_arrival": {"arrived_at": days(0)},
    "close": {"reason": "other"},
    "reopen": {"reason": "Contact restored."},
    "split_case": {"reason": "Part of the household was accepted."},  # + a current member
    "set_legal_hold": {"hold": True, "reason": "Court order 12/2026."},
}
READS = ("read", "list", "events", "patch", "subject_access", "search", "duplicates")


def test_the_table_covers_every_role_action_and_situation() -> None:
    assert set(TABLE) == set(ROLES)
    for role, rows in TABLE.items():
        assert set(rows) == set(BODIES) | set(READS), role
        for action, cells in rows.items():
            assert len(cells.split()) == len(SITUATIONS), (role, action)
            assert set(cells.split()) <= {"ok", "403", "404"}, (role, action)


class Probe:
    """Asks one question per cell, keeping each situation's case in its situation."""

    def __init__(self, client: httpx.AsyncClient, builder: Builder) -> None:
        self.client, self.builder = client, builder
        self.cases: dict[str, Json] = {}
        self.not_found: Json = {}

    async def setup(self) -> None:
        for situation in SITUATIONS:
            self.cases[situation] = await self.builder.situation(situation)
        response = await self.client.get(
            f"/api/v1/cases/{uuid.uuid4()}", headers=self.builder.people.worker.headers
        )
        assert response.status_code == 404
        self.not_found = without(response.json(), "instance", "detail")

    async def ask(self, role: str, action: str, situation: str) -> str:
        user = self.builder.people.role(role)
        case = self.cases[situation]
        path = f"/api/v1/cases/{case['id']}"
        if_match = {**user.headers, "If-Match": f'"{case["version"]}"'}
        if action == "list":
            response = await self.client.get("/api/v1/cases?limit=200", headers=user.headers)
            if response.status_code == 200:
                listed = {item["id"] for item in response.json()["items"]}
                return "ok" if case["id"] in listed else "404"
        elif action == "search":  # by reference and by name: the case's list cell, both ways
            found = set()
            for q in (case["reference"].lower(), "ana lop"):
                response = await self.client.get(
                    "/api/v1/cases", params={"q": q, "limit": 200}, headers=user.headers
                )
                if response.status_code != 200:
                    return await self._outcome(response, action, situation)
                found.add(case["id"] in {item["id"] for item in response.json()["items"]})
            assert len(found) == 1, f"{role} {situation}: found one way, not the other"
            return "ok" if found == {True} else "404"
        elif action == "duplicates":
            response = await self.client.get(f"{path}/possible-duplicates", headers=user.headers)
        elif action == "read":
            response = await self.client.get(path, headers=user.headers)
        elif action == "events":
            response = await self.client.get(f"{path}/events", headers=user.headers)
        elif action == "subject_access":
            member = case["members"][0]["id"]
            response = await self.client.get(
                f"{path}/members/{member}/subject-access", headers=user.headers
            )
        elif action == "patch":
            body: dict[str, Any] = {"processing_priority": "normal"}
            response = await self.client.patch(path, json=body, headers=if_match)
        else:
            body = {"action": action, **BODIES[action]}
            if action == "split_case":  # ids of another case's members would be a 422
                moving = [case["members"][-1]["id"]]
                body.update(members=moving, principal=moving[0])
            response = await self.client.post(f"{path}/transitions", json=body, headers=if_match)
        return await self._outcome(response, action, situation)

    async def _outcome(self, response: httpx.Response, action: str, situation: str) -> str:
        status = response.status_code
        if status == 404:
            assert without(response.json(), "instance", "detail") == self.not_found
            return "404"
        if status == 403:
            assert response.json()["code"] == "forbidden", response.text
            return "403"
        reads = ("read", "list", "events", "subject_access", "duplicates")
        allowed = {200} if action in reads else {200, 204, 409}
        assert status in allowed, f"{action} on {situation}: {status} {response.text}"
        if status == 200 and action == "patch":
            self.cases[situation] = response.json()  # same situation, next version
        elif status in (200, 204) and action not in reads:
            # The action went through: put a fresh case back into this situation.
            self.cases[situation] = await self.builder.situation(situation)
        return "ok"


@pytest.mark.parametrize("role", ROLES)
async def test_policy_table_over_http(client: httpx.AsyncClient, make: Factory, role: str) -> None:
    probe = Probe(client, Builder(client, make, await make_cast(make)))
    await probe.setup()
    wrong: list[str] = []
    for action, cells in TABLE[role].items():
        for situation, expected in zip(SITUATIONS, cells.split(), strict=True):
            got = await probe.ask(role, action, situation)
            if got != expected:
                wrong.append(f"{role} {action} on {situation}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


async def test_list_for_each_role_holds_exactly_its_scope(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """The same scope seen from one list call per role, with all six situations present."""
    builder = Builder(client, make, await make_cast(make))
    ids = {situation: (await builder.situation(situation))["id"] for situation in SITUATIONS}
    for role, rows in TABLE.items():
        user = builder.people.role(role)
        response = await client.get("/api/v1/cases?limit=200", headers=user.headers)
        expected = rows["list"].split()
        if "403" in expected:
            assert response.status_code == 403, role
            continue
        assert response.status_code == 200, response.text
        listed = {item["id"] for item in response.json()["items"]}
        visible = {ids[s] for s, cell in zip(SITUATIONS, expected, strict=True) if cell == "ok"}
        assert listed == visible, role
