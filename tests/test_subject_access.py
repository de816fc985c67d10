"""Subject access (domain.md): one document with everything held about one member — its
fields, the case's, the submissions and stays (which states and transit countries received
the data, and when), the events, and who read the case (role, country; usernames of UNHCR
staff only) — for a supervisor only, itself logged as ``subject_access``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.common import assert_problem, make_cast
from tests.factories import Factory
from tests.lifecycle_helpers import (
    AUTHORISE_CRI,
    DENY,
    REQUEST_CRI,
    SUBMIT_USA,
    Driver,
    submission,
)

API = "/api/v1"
DOCUMENT = {"member", "case", "submissions", "transit_stays", "events", "reads"}


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def url(case_id: str, member_id: str) -> str:
    return f"{API}/cases/{case_id}/members/{member_id}/subject-access"


async def two_states(drive: Driver) -> dict[str, Any]:
    """A case denied by the USA and resubmitted to Canada, on its way through Costa Rica."""
    case = await drive.new_case()
    return await drive.run(
        case,
        [
            *SUBMIT_USA,
            DENY,
            ("boss", "resubmit", submission("CAN")),
            REQUEST_CRI,
            AUTHORISE_CRI,
        ],
    )


async def test_everything_held_about_a_member_of_a_case_submitted_to_two_states(
    drive: Driver,
) -> None:
    c, client = drive.cast, drive.client
    case = await two_states(drive)
    for reader in (c.worker, c.usa, c.can, c.cri):
        seen = await client.get(f"{API}/cases/{case['id']}", headers=reader.headers)
        assert seen.status_code == 200, (reader.role, seen.text)
    await client.get(f"{API}/cases?limit=200", headers=c.can.headers)
    await client.get(f"{API}/cases/{case['id']}/events", headers=c.usa.headers)
    child = case["members"][1]
    events = await drive.events(case["id"])  # a supervisor's read, like the ones above

    answer = await client.get(url(case["id"], child["id"]), headers=c.boss.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    document = answer.json()
    assert set(document) == DOCUMENT
    assert document["member"] == child
    assert document["member"]["given_name"] == "Luis"
    held = document["case"]
    assert held["reference"] == case["reference"]
    assert held["referral_source"] == case["referral_source"]
    assert held["legal_hold"] is False and held["erased_at"] is None
    assert "members" not in held, "the other members' data is theirs, not this person's"
    assert "Ana" not in json.dumps(held)
    states = [(s["resettlement_country"], s["status"]) for s in document["submissions"]]
    assert states == [("USA", "denied"), ("CAN", "pending")]
    assert all(s["submitted_at"] for s in document["submissions"])
    (stay,) = document["transit_stays"]
    assert (stay["transit_country"], stay["status"]) == ("CRI", "authorised")
    assert stay["requested_at"] and stay["authorised_at"]
    assert document["events"] == events
    assert all(len(e["hash"]) == 64 for e in document["events"])

    reads = document["reads"]
    assert all(set(r) == {"at", "action", "role", "country", "username"} for r in reads)
    by_who = {(r["role"], r["country"], r["username"]) for r in reads}
    assert ("caseworker", None, c.worker.username) in by_who
    assert ("supervisor", None, c.boss.username) in by_who
    for officer in (c.usa, c.can, c.cri):
        assert (officer.role, officer.country, None) in by_who
        assert all(r["username"] != officer.username for r in reads)
    assert {"view", "list", "events"} <= {r["action"] for r in reads}
    assert [r["at"] for r in reads] == sorted(r["at"] for r in reads)

    log = await client.get(f"{API}/audit/access-log?action=subject_access", headers=c.boss.headers)
    (entry,) = log.json()["items"]
    assert entry["case_ids"] == [case["id"]] and entry["user_id"] == str(c.boss.id)
    assert entry["filters"] == {"member_id": child["id"]}
    again = await client.get(url(case["id"], child["id"]), headers=c.boss.headers)
    assert [r["action"] for r in again.json()["reads"] if r["action"] == "subject_access"] == [
        "subject_access"
    ]


async def test_only_a_supervisor_asks_and_only_about_a_member_of_that_case(
    drive: Driver,
) -> None:
    c, client = drive.cast, drive.client
    case = await two_states(drive)
    other = await drive.new_case()
    member = case["members"][0]["id"]
    for user, status in (
        (c.worker, 403),
        (c.can, 403),  # sees the case (submitted to Canada)
        (c.usa, 403),  # so does the state that denied it
        (c.cri, 403),
        (c.aus, 404),  # never submitted to Australia
        (c.pan, 404),
        (c.manager, 404),
        (c.admin, 404),
    ):
        answer = await client.get(url(case["id"], member), headers=user.headers)
        assert_problem(answer, status, "forbidden" if status == 403 else "not_found")
    for member_id in (other["members"][0]["id"], str(uuid.uuid4())):
        answer = await client.get(url(case["id"], member_id), headers=c.boss.headers)
        assert_problem(answer, 404, "not_found")
    missing = await client.get(url(str(uuid.uuid4()), member), headers=c.boss.headers)
    assert_problem(missing, 404, "not_found")
    log = await client.get(f"{API}/audit/access-log?action=subject_access", headers=c.boss.headers)
    assert log.json()["items"] == [], "a refused request reads nothing"
