"""Split decisions over HTTP (domain.md "Split decisions"): a state accepts part of a
household, departure waits for the split to be resolved, split_case moves the members the
state did not accept to a new case of their own (ids and milestone dates with them), and the
new case lives its own life — while every people figure of the funnel stays where it was.
Every refusal answers the contract's status and code and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import Factory, member
from tests.lifecycle_helpers import (
    API,
    IN_TRANSIT,
    Driver,
    days,
    etag_version,
    make_cast,
    problem,
    submission,
)

REASON = "The state accepted the parents and one child"


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def household() -> list[dict[str, Any]]:
    """A principal and three others: spouse, two children."""
    return [
        member(given_name="Marta"),
        member(is_principal=False, given_name="Jorge", sex="male", relationship="spouse"),
        member(
            is_principal=False, given_name="Lucia", date_of_birth="2010-03-03", relationship="child"
        ),
        member(
            is_principal=False,
            given_name="Pablo",
            sex="male",
            date_of_birth="2012-05-05",
            relationship="child",
        ),
    ]


async def people(drive: Driver) -> dict[str, tuple[int, int]]:
    """The whole programme's funnel: (cases, people) per stage."""
    response = await drive.client.get(
        f"{API}/reports/funnel",
        params={"from": "2016-01-01", "to": days(0)},
        headers=drive.cast.boss.headers,
    )
    assert response.status_code == 200, response.text
    return {s["stage"]: (s["cases"], s["people"]) for s in response.json()["stages"]}


async def unchanged(
    drive: Driver, case: dict[str, Any], response: httpx.Response, status: int, code: str
) -> dict[str, Any]:
    """The refusal is the contract's, and the case is exactly as before: no version, no event,
    no member moved, no new case."""
    body = problem(response, status, code)
    assert await drive.get(case["id"]) == case
    assert len(await drive.events(case["id"])) == case["version"]
    listed = await drive.client.get(f"{API}/cases", headers=drive.cast.boss.headers)
    assert len(listed.json()["items"]) == 1
    return body


async def split_accepted(drive: Driver, accepted: int = 2) -> dict[str, Any]:
    """A household in transit whose acceptance leaves out its last members."""
    case = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    await drive.act(
        drive.cast.usa, case, "decide", decision="accepted", accepted_members=ids[:accepted]
    )
    return await drive.get(case["id"])


async def test_a_household_split_departs_and_arrives_in_two_cases(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    assert all(uuid.UUID(i) for i in ids) and len(set(ids)) == 4
    before = await people(drive)
    assert before == {
        "identified": (1, 4),
        "submitted": (1, 4),
        "in_transit": (1, 4),
        "resettled": (0, 0),
    }

    # The state accepts the principal and the spouse only: a split, open.
    decided = await drive.act(
        c.usa, case, "decide", decision="accepted", accepted_members=[ids[1], ids[0]]
    )
    latest = decided["submissions"][-1]
    assert latest["status"] == "accepted" and latest["split"] is True
    assert set(latest["accepted_members"]) == {ids[0], ids[1]}
    case = await drive.get(case["id"])
    for viewer in (c.boss, c.cri):
        seen = (await drive.get(case["id"], by=viewer))["submissions"][-1]
        assert seen["split"] is True and set(seen["accepted_members"]) == {ids[0], ids[1]}

    # Departure waits for the split: 409 conflict naming the members left out.
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    body = await unchanged(drive, case, response, 409, "conflict")
    assert ids[2] in body["detail"] and ids[3] in body["detail"]

    # split_case: 200 with the original case, the new case's URL in Location.
    response = await drive.post(
        c.boss,
        case["id"],
        "split_case",
        case["version"],
        members=[ids[3], ids[2]],
        principal=ids[2],
        reason=REASON,
    )
    assert response.status_code == 200, response.text
    original = response.json()
    assert etag_version(response) == original["version"] == case["version"] + 1
    new_url = response.headers["Location"]
    assert new_url.startswith(f"{API}/cases/")
    new_id = new_url.rsplit("/", 1)[1]
    assert original["split_into"] == [new_id] and original["split_from"] is None
    assert [m["id"] for m in original["members"]] == ids[:2]
    assert original["status"] == "in_transit"
    assert original["submissions"][-1]["split"] is True  # it stays true after the split

    new = await drive.get(new_id)
    assert new["id"] == new_id and new["reference"] != original["reference"]
    assert new["status"] == "assessment" and new["split_from"] == case["id"]
    assert new["split_into"] == []
    assert new["submissions"] == [] and new["transit_stays"] == []
    for name in (
        "origin_country",
        "pathway",
        "processing_priority",
        "referral_source",
        "protection_summary",
        "identified_at",
    ):
        assert new[name] == case[name], name
    moved = {m["id"]: m for m in new["members"]}
    assert set(moved) == {ids[2], ids[3]}
    assert moved[ids[2]]["is_principal"] and not moved[ids[3]]["is_principal"]
    old = {m["id"]: m for m in case["members"]}
    for member_id in (ids[2], ids[3]):
        kept = {k: v for k, v in moved[member_id].items() if k != "is_principal"}
        assert kept == {k: v for k, v in old[member_id].items() if k != "is_principal"}

    # Events on both cases.
    events = await drive.events(case["id"])
    assert events[-1]["action"] == "split_case"
    assert events[-1]["payload"]["members"] == sorted([ids[2], ids[3]])
    assert events[-1]["payload"]["reason"] == REASON
    (create,) = await drive.events(new_id)
    assert create["action"] == "create" and create["payload"]["split_from"] == case["id"]

    # The accepting state's officer sees the original only, without split_from/split_into.
    seen = await drive.get(case["id"], by=c.usa)
    assert "split_into" not in seen and "split_from" not in seen
    assert [m["id"] for m in seen["members"]] == ids[:2]
    assert "split_case" in [e["action"] for e in await drive.events(case["id"], by=c.usa)]
    officer_event = (await drive.events(case["id"], by=c.usa))[-1]
    assert "reason" not in officer_event["payload"]
    response = await drive.client.get(f"{API}/cases/{new_id}", headers=c.usa.headers)
    problem(response, 404, "not_found")

    # A split never changes a people count; the new case counts as identified.
    after = await people(drive)
    assert after == {**before, "identified": (2, 4)}

    # The original departs and arrives.
    original = await drive.act(c.worker, original, "record_departure", departed_at=days(0))
    original = await drive.act(c.usa, original, "confirm_arrival", arrived_at=days(0))
    assert original["status"] == "resettled"

    # The new case's own life: review, another state, transit, departure, arrival.
    new = await drive.run(
        new,
        [
            ("worker", "request_review", {}),
            ("boss", "submit", submission("CAN")),
            ("can", "decide", {"decision": "accepted"}),
            ("worker", "request_transit", {"transit_country": "CRI"}),
            ("cri", "authorise_transit", {}),
            ("cri", "record_transit_entry", {"entered_at": "<today>"}),
            ("worker", "record_departure", {"departed_at": "<today>"}),
            ("can", "confirm_arrival", {"arrived_at": "<today>"}),
        ],
    )
    assert new["status"] == "resettled"
    assert set(new["submissions"][-1]["accepted_members"]) == {ids[2], ids[3]}
    assert new["submissions"][-1]["split"] is False
    assert await people(drive) == {
        "identified": (2, 4),
        "submitted": (2, 4),
        "in_transit": (2, 4),
        "resettled": (2, 4),
    }


async def test_split_case_checks_in_the_contracts_order(drive: Driver) -> None:
    c = drive.cast
    case = await split_accepted(drive)  # accepted: ids[0], ids[1]
    ids = [m["id"] for m in case["members"]]
    stranger = str(uuid.uuid4())

    async def split(
        by: Any = None, version: Any = case["version"], **fields: Any
    ) -> httpx.Response:
        body = {"members": [ids[2], ids[3]], "principal": ids[2], "reason": REASON, **fields}
        return await drive.post(by or c.boss, case["id"], "split_case", version, **body)

    # The request on its own: empty, repeated, principal not among members, no reason → 422.
    bad_requests: list[dict[str, Any]] = [
        {"members": []},
        {"members": [ids[2], ids[2]]},
        {"principal": ids[3], "members": [ids[2]]},
        {"reason": ""},
    ]
    for fields in bad_requests:
        await unchanged(drive, case, await split(**fields), 422, "validation_error")
    # Roles: only a supervisor.
    for user in (c.worker, c.usa, c.cri):
        await unchanged(drive, case, await split(by=user), 403, "forbidden")
    # If-Match comes before the member ids.
    await unchanged(
        drive,
        case,
        await split(version=case["version"] - 1, members=[stranger], principal=stranger),
        412,
        "precondition_failed",
    )
    await unchanged(drive, case, await split(version=None), 428, "precondition_required")
    # An id that is not a current member → 422, before any 409.
    body = await unchanged(
        drive, case, await split(members=[ids[2], stranger]), 422, "validation_error"
    )
    assert body["errors"][0]["loc"] == ["body", "members", 1]
    # Which members move: every current member, the principal, not exactly those left out.
    await unchanged(drive, case, await split(members=ids, principal=ids[2]), 409, "conflict")
    await unchanged(
        drive,
        case,
        await split(members=[ids[0], ids[2], ids[3]], principal=ids[2]),
        409,
        "conflict",
    )
    await unchanged(drive, case, await split(members=[ids[2]], principal=ids[2]), 409, "conflict")
    await unchanged(
        drive,
        case,
        await split(members=[ids[1], ids[2], ids[3]], principal=ids[2]),
        409,
        "conflict",
    )


async def test_no_open_split_is_invalid_transition_and_wins_over_conflict(
    drive: Driver,
) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    await drive.act(c.usa, case, "decide", decision="accepted")  # everyone
    case = await drive.get(case["id"])
    assert case["submissions"][-1]["split"] is False
    assert set(case["submissions"][-1]["accepted_members"]) == set(ids)
    for members in ([ids[3]], ids):  # a valid-looking request, and one that is also a conflict
        response = await drive.post(
            c.boss,
            case["id"],
            "split_case",
            case["version"],
            members=members,
            principal=ids[3],
            reason=REASON,
        )
        body = await unchanged(drive, case, response, 409, "invalid_transition")
        assert "split_case" in body["detail"] and "record_departure" in body["detail"]
    # A pending submission: no split to resolve either.
    pending = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    pending_ids = [m["id"] for m in pending["members"]]
    response = await drive.post(
        c.boss,
        pending["id"],
        "split_case",
        pending["version"],
        members=[pending_ids[3]],
        principal=pending_ids[3],
        reason=REASON,
    )
    problem(response, 409, "invalid_transition")


async def test_the_principal_left_out_is_made_a_stayer_first(drive: Driver) -> None:
    """A state that did not accept the principal: UNHCR makes an accepted member the principal
    (a PATCH correcting is_principal, allowed while the submission is live), then splits."""
    c = drive.cast
    case = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    await drive.act(
        c.usa, case, "decide", decision="accepted", accepted_members=[ids[1], ids[2], ids[3]]
    )
    case = await drive.get(case["id"])
    response = await drive.post(
        c.boss,
        case["id"],
        "split_case",
        case["version"],
        members=[ids[0]],
        principal=ids[0],
        reason=REASON,
    )
    await unchanged(drive, case, response, 409, "conflict")
    members = [
        {**{k: v for k, v in m.items()}, "is_principal": m["id"] == ids[1]} for m in case["members"]
    ]
    response = await drive.patch(c.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    case = response.json()
    assert [m["id"] for m in case["members"]] == ids
    case = await drive.act(
        c.boss, case, "split_case", members=[ids[0]], principal=ids[0], reason=REASON
    )
    assert [m["id"] for m in case["members"]] == ids[1:]
    case = await drive.act(c.worker, case, "record_departure", departed_at=days(0))
    assert case["status"] == "departed"


async def test_decide_accepted_members_rules(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(members=household()), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]

    async def decide(**fields: Any) -> httpx.Response:
        return await drive.post(c.usa, case["id"], "decide", case["version"], **fields)

    for fields in (
        {"decision": "denied", "reason": "no", "accepted_members": ids},
        {"decision": "on_hold", "reason": "wait", "accepted_members": ids[:1]},
        {"decision": "accepted", "accepted_members": []},
        {"decision": "accepted", "accepted_members": [ids[0], ids[0]]},
        {"decision": "accepted", "accepted_members": ["not-a-uuid"]},
    ):
        await unchanged(drive, case, await decide(**fields), 422, "validation_error")
    body = await unchanged(
        drive,
        case,
        await decide(decision="accepted", accepted_members=[ids[0], str(uuid.uuid4())]),
        422,
        "validation_error",
    )
    assert body["errors"][0]["loc"] == ["body", "accepted_members", 1]
    # Not the officer of that state: 403 before the ids are judged.
    response = await drive.post(
        c.can,
        case["id"],
        "decide",
        case["version"],
        decision="accepted",
        accepted_members=[str(uuid.uuid4())],
    )
    problem(response, 404, "not_found")  # CAN does not see a case submitted to USA
    # Naming every member is no split.
    decided = await drive.act(c.usa, case, "decide", decision="accepted", accepted_members=ids)
    assert decided["submissions"][-1]["split"] is False
    decision_event = (await drive.events(case["id"], by=c.usa))[-1]
    assert decision_event["payload"]["split"] is False


async def test_closing_a_split_acceptance_frees_the_member_list(drive: Driver) -> None:
    """Another way out: close (the accepted submission is withdrawn; the actions table lets
    withdraw_submission act on an undecided submission only), reopen, change the household,
    resubmit; departure follows the next acceptance."""
    c = drive.cast
    case = await split_accepted(drive)
    ids = [m["id"] for m in case["members"]]
    response = await drive.post(
        c.boss, case["id"], "withdraw_submission", case["version"], reason="applicant_request"
    )
    await unchanged(drive, case, response, 409, "invalid_transition")
    case = await drive.act(c.boss, case, "close", reason="other")
    case = await drive.act(c.boss, case, "reopen", reason="the household will travel apart")
    response = await drive.patch(
        c.worker, case["id"], case["version"], members=[{**m} for m in case["members"][:2]]
    )
    assert response.status_code == 200, response.text
    case = response.json()
    assert [m["id"] for m in case["members"]] == ids[:2]
    case = await drive.act(c.boss, case, "resubmit", **submission("CAN"))
    case = await drive.act(c.can, case, "decide", decision="accepted")
    case = await drive.act(c.worker, case, "record_departure", departed_at=days(0))
    assert case["status"] == "departed"


async def test_new_case_numbering_follows_the_original_year(drive: Driver) -> None:
    """The new case's reference is the next of its origin and identification year."""
    case = await drive.run(
        await drive.new_case(members=household(), identified_at="2024-03-01"), IN_TRANSIT
    )
    ids = [m["id"] for m in case["members"]]
    case = await drive.act(
        drive.cast.usa, case, "decide", decision="accepted", accepted_members=ids[:3]
    )
    case = await drive.act(
        drive.cast.boss, case, "split_case", members=[ids[3]], principal=ids[3], reason=REASON
    )
    new = await drive.get(case["split_into"][0])
    assert case["reference"].startswith("PTA-SLV-2024-")
    assert new["reference"].startswith("PTA-SLV-2024-")
    assert new["identified_at"] == "2024-03-01"
