"""PATCH /cases/{id}: what may change, when, and by whom (issue 3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory, member
from tests.lifecycle_helpers import (
    ACCEPT,
    IN_TRANSIT,
    REVIEW,
    SUBMIT_USA,
    WITHDRAW,
    Driver,
    days,
    etag_version,
    make_cast,
    problem,
)


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


NEW_MEMBERS = [
    member(given_name="Rosa", family_name="Diaz", date_of_birth="1985-04-04"),
    member(
        is_principal=False,
        given_name="Mateo",
        family_name="Diaz",
        sex="male",
        date_of_birth="2012-01-01",
        relationship="child",
        dob_estimated=True,
        document_number="X-123",
    ),
    member(
        is_principal=False,
        given_name="Sofia",
        family_name="Diaz",
        date_of_birth="2016-09-09",
        relationship="child",
    ),
]


async def refused_unchanged(
    drive: Driver, case: dict[str, Any], response: httpx.Response, status: int, code: str
) -> None:
    problem(response, status, code)
    assert await drive.get(case["id"]) == case
    assert len(await drive.events(case["id"])) == case["version"]


async def test_patch_changes_fields_and_replaces_members(drive: Driver) -> None:
    c = drive.cast
    case = await drive.get((await drive.new_case())["id"])
    response = await drive.patch(
        c.worker,
        case["id"],
        case["version"],
        processing_priority="emergency",
        referral_source="Hotline",
        protection_summary="Updated summary",
        members=NEW_MEMBERS,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert etag_version(response) == body["version"] == case["version"] + 1
    assert (body["processing_priority"], body["referral_source"], body["protection_summary"]) == (
        "emergency",
        "Hotline",
        "Updated summary",
    )
    assert [m["given_name"] for m in body["members"]] == ["Rosa", "Mateo", "Sofia"]
    assert [m["is_principal"] for m in body["members"]] == [True, False, False]
    assert body["members"][1]["dob_estimated"] is True
    assert body["members"][1]["document_number"] == "X-123"
    assert body["status"] == case["status"] and body["reference"] == case["reference"]
    assert await drive.get(case["id"]) == body

    # Fields not given are left alone; a nullable text can be cleared.
    response = await drive.patch(c.boss, case["id"], body["version"], referral_source=None)
    assert response.status_code == 200, response.text
    again = response.json()
    assert again["referral_source"] is None
    assert again["processing_priority"] == "emergency"
    assert [m["given_name"] for m in again["members"]] == ["Rosa", "Mateo", "Sofia"]

    events = await drive.events(case["id"])
    assert [e["action"] for e in events] == ["create", "update", "update"]
    assert all(e["from_status"] == e["to_status"] == "identified" for e in events[1:])
    assert set(events[1]["payload"]["changed"]) == {
        "processing_priority",
        "referral_source",
        "protection_summary",
        "members",
    }
    # No personal data in the history.
    assert "Rosa" not in str(events) and "Hotline" not in str(events)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"members": []}, "no members"),
        ({"members": [member(is_principal=False)]}, "no principal"),
        ({"members": [member(), member(given_name="Eva")]}, "two principals"),
        ({"members": [member()] + [member(is_principal=False)] * 30}, "31 members"),
        ({"members": [member(date_of_birth=days(1))]}, "born in the future"),
        ({"members": [member(nationality="XXX")]}, "unknown country"),
        ({"members": [member(sex="x")]}, "unknown sex"),
        ({"members": [{**member(), "nickname": "A"}]}, "unknown member field"),
        ({"members": [member(given_name=" ")]}, "blank name"),
        ({"members": None}, "null members"),
        ({"processing_priority": "whenever"}, "unknown priority"),
        ({"processing_priority": None}, "null priority"),
        ({"pathway": "air"}, "unknown pathway"),
        ({"status": "resettled"}, "status is not editable"),
        ({"version": 9}, "version is not editable"),
        ({"id": "00000000-0000-7000-8000-000000000000"}, "id is not editable"),
        ({"identified_at": "2020-01-01"}, "identified_at is not editable"),
        ({"created_by": "00000000-0000-7000-8000-000000000000"}, "created_by"),
        ({}, "nothing to change"),
    ],
)
async def test_patch_validation_is_the_same_as_create(
    drive: Driver, fields: dict[str, Any], why: str
) -> None:
    case = await drive.get((await drive.new_case())["id"])
    response = await drive.patch(drive.cast.worker, case["id"], case["version"], **fields)
    await refused_unchanged(drive, case, response, 422, "validation_error")
    # 422 comes before If-Match (428) and before 404.
    response = await drive.patch(drive.cast.worker, case["id"], None, **fields)
    problem(response, 422, "validation_error")


async def test_thirty_members_are_fine(drive: Driver) -> None:
    case = await drive.get((await drive.new_case())["id"])
    members = [member()] + [member(is_principal=False, relationship="relative")] * 29
    response = await drive.patch(drive.cast.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    assert len(response.json()["members"]) == 30


async def test_pathway_only_before_submission(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), REVIEW)
    response = await drive.patch(c.worker, case["id"], case["version"], pathway="in_country")
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["pathway"] == "in_country"
    events = await drive.events(case["id"])
    assert events[-1]["payload"]["pathway"] == "in_country"

    case = await drive.run(case, [("boss", "submit", SUBMIT_USA[-1][2])])
    response = await drive.patch(c.worker, case["id"], case["version"], pathway="transit")
    await refused_unchanged(drive, case, response, 409, "conflict")
    # Even when the submission was withdrawn and the case is back in review.
    case = await drive.run(case, [WITHDRAW])
    assert case["status"] == "pending_review"
    response = await drive.patch(c.worker, case["id"], case["version"], pathway="transit")
    await refused_unchanged(drive, case, response, 409, "conflict")
    # Other fields still change after submission.
    response = await drive.patch(c.worker, case["id"], case["version"], members=NEW_MEMBERS)
    assert response.status_code == 200, response.text


async def test_members_not_after_departure(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(
        await drive.new_case(),
        [*IN_TRANSIT, ACCEPT, ("worker", "record_departure", {"departed_at": "<today>"})],
    )
    response = await drive.patch(c.boss, case["id"], case["version"], members=NEW_MEMBERS)
    await refused_unchanged(drive, case, response, 409, "conflict")
    # Other fields may still be kept up to date.
    response = await drive.patch(c.boss, case["id"], case["version"], protection_summary="Safe")
    assert response.status_code == 200, response.text
    case = response.json()
    # Closing a departed case does not reopen the member list.
    case = await drive.act(c.boss, case, "close", reason="other")
    response = await drive.patch(c.boss, case["id"], case["version"], members=NEW_MEMBERS)
    await refused_unchanged(drive, await drive.get(case["id"]), response, 409, "conflict")


async def test_who_may_patch(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), [*IN_TRANSIT])
    for officer in (c.usa, c.cri):
        response = await drive.patch(officer, case["id"], case["version"], referral_source="x")
        await refused_unchanged(drive, case, response, 403, "forbidden")
    response = await drive.patch(c.can, case["id"], case["version"], referral_source="x")
    await refused_unchanged(drive, case, response, 404, "not_found")
    response = await drive.patch(
        c.worker, "00000000-0000-7000-8000-000000000000", 1, referral_source="x"
    )
    problem(response, 404, "not_found")
    manager = await drive.make.user("manager")
    response = await drive.patch(manager, case["id"], case["version"], referral_source="x")
    # A manager sees no case records: the case does not exist for it.
    await refused_unchanged(drive, case, response, 404, "not_found")
    # 403 comes before If-Match.
    response = await drive.patch(c.usa, case["id"], None, referral_source="x")
    problem(response, 403, "forbidden")
    response = await drive.client.patch(
        f"/api/v1/cases/{case['id']}", json={"referral_source": "x"}
    )
    problem(response, 401, "unauthorized")
