"""End to end over HTTP: the transit and in-country pathways, resubmission, refusal of transit,
withdrawal, close/reopen, extensions, date rules, four eyes and If-Match (issue 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory, case_body
from tests.lifecycle_helpers import (
    ACCEPT,
    AUTHORISE_CRI,
    IN_TRANSIT,
    REQUEST_CRI,
    REVIEW,
    SUBMIT_USA,
    Driver,
    ScenarioStep,
    backdate,
    days,
    etag_version,
    make_cast,
    problem,
    submission,
    today,
)


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def shape(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(e["action"], e["from_status"], e["to_status"]) for e in events]


async def unchanged(drive: Driver, case: dict[str, Any]) -> None:
    """The case and its history are as they were (after a refused request)."""
    assert await drive.get(case["id"]) == case
    events = await drive.events(case["id"])
    assert len(events) == case["version"], "one event per write, one version per write"


# Pathways ------------------------------------------------------------------------------------
async def test_transit_pathway(drive: Driver, client: httpx.AsyncClient) -> None:
    c = drive.cast
    identified = days(-40)
    case = await drive.new_case(identified_at=identified)
    assert case["status"] == "identified" and case["stage"] == "identification"
    assert case["version"] == 1 and case["identified_at"] == identified
    assert case["first_submitted_at"] is None

    case = await drive.act(c.worker, case, "start_assessment")
    assert (case["status"], case["version"]) == ("assessment", 2)
    case = await drive.act(c.worker, case, "request_review")
    assert (case["status"], case["drafted_by"]) == ("pending_review", str(c.worker.id))
    case = await drive.act(c.boss, case, "submit", **submission("USA"))
    assert (case["status"], case["stage"]) == ("submitted", "submission")
    assert case["first_submitted_at"] == days(0)
    (sub,) = case["submissions"]
    assert (sub["sequence"], sub["status"], sub["resettlement_country"]) == (1, "pending", "USA")
    assert sub["submitted_by"] == str(c.boss.id)

    case = await drive.act(c.worker, case, "request_transit", transit_country="CRI")
    (stay,) = case["transit_stays"]
    assert (stay["status"], stay["transit_country"]) == ("requested", "CRI")
    seen = await drive.act(c.cri, case, "authorise_transit", note="Cleared at the border")
    assert seen["transit_stays"][0]["status"] == "authorised"
    assert "protection_summary" not in seen and "referral_source" not in seen
    seen = await drive.act(c.cri, seen, "record_transit_entry", entered_at=days(0))
    assert (seen["status"], seen["stage"]) == ("in_transit", "transit")
    stay = seen["transit_stays"][0]
    assert stay["status"] == "in_transit" and stay["entered_at"] == days(0)
    assert stay["authorised_until"] == days(180), "entry + 180 days"

    seen = await drive.act(c.usa, seen, "decide", decision="accepted")
    assert seen["submissions"][0]["status"] == "accepted" and seen["status"] == "in_transit"
    # The transit officer of the stay's country may record the departure.
    seen = await drive.act(c.cri, seen, "record_departure", departed_at=days(0))
    assert seen["status"] == "departed"
    stay = seen["transit_stays"][0]
    assert (stay["status"], stay["exited_at"], stay["exit_reason"]) == (
        "exited",
        days(0),
        "departed_to_resettlement",
    )
    # The resettlement officer of the accepting state confirms the arrival.
    seen = await drive.act(c.usa, seen, "confirm_arrival", arrived_at=days(0))
    assert (seen["status"], seen["stage"]) == ("resettled", "resettlement")

    case = await drive.get(case["id"])
    assert case["version"] == 10
    assert (case["identified_at"], case["first_submitted_at"]) == (identified, days(0))
    assert case["transit_entered_at"] == case["departed_at"] == case["resettled_at"] == days(0)
    events = await drive.events(case["id"])
    assert shape(events) == [
        ("create", None, "identified"),
        ("start_assessment", "identified", "assessment"),
        ("request_review", "assessment", "pending_review"),
        ("submit", "pending_review", "submitted"),
        ("request_transit", "submitted", "submitted"),
        ("authorise_transit", "submitted", "submitted"),
        ("record_transit_entry", "submitted", "in_transit"),
        ("decide", "in_transit", "in_transit"),
        ("record_departure", "in_transit", "departed"),
        ("confirm_arrival", "departed", "resettled"),
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert [e["user_id"] for e in events][-2:] == [str(c.cri.id), str(c.usa.id)]
    assert [e["role"] for e in events][-1] == "resettlement_officer"
    # Resettled is terminal.
    response = await drive.post(c.boss, case["id"], "close", case["version"], reason="other")
    problem(response, 409, "invalid_transition")


async def test_in_country_pathway(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(pathway="in_country"), SUBMIT_USA)
    # No transit on this pathway.
    response = await drive.post(
        c.worker, case["id"], "request_transit", case["version"], transit_country="CRI"
    )
    problem(response, 409, "invalid_transition")
    # Departure needs an accepted submission.
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    problem(response, 409, "invalid_transition")
    await unchanged(drive, case)

    response = await drive.post(c.usa, case["id"], "decide", case["version"], decision="on_hold")
    problem(response, 422, "validation_error")  # on_hold needs a reason
    seen = await drive.act(c.usa, case, "decide", decision="on_hold", reason="Interview")
    assert seen["submissions"][0]["status"] == "on_hold"
    assert seen["submissions"][0]["decision_reason"] == "Interview"
    seen = await drive.act(c.usa, seen, "decide", decision="accepted")
    response = await drive.post(
        c.usa, case["id"], "decide", seen["version"], decision="denied", reason="Changed our mind"
    )
    problem(response, 409, "invalid_transition")  # decided already

    case = await drive.get(case["id"])
    # A transit officer has nothing to do with it: the case does not exist for them.
    response = await drive.post(
        c.cri, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    problem(response, 404, "not_found")
    case = await drive.act(c.worker, case, "record_departure", departed_at=days(0))
    assert (case["status"], case["transit_stays"]) == ("departed", [])
    assert case["transit_entered_at"] is None and case["departed_at"] == days(0)
    response = await drive.post(
        c.worker, case["id"], "confirm_arrival", case["version"], arrived_at=days(0)
    )
    problem(response, 403, "forbidden")  # caseworkers do not confirm arrivals
    case = await drive.act(c.boss, case, "confirm_arrival", arrived_at=days(0))
    assert (case["status"], case["resettled_at"]) == ("resettled", days(0))
    assert shape(await drive.events(case["id"]))[-4:] == [
        ("decide", "submitted", "submitted"),
        ("decide", "submitted", "submitted"),
        ("record_departure", "submitted", "departed"),
        ("confirm_arrival", "departed", "resettled"),
    ]


async def test_resubmission_after_denial(drive: Driver, engine: AsyncEngine) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(identified_at=days(-30)), SUBMIT_USA)
    await backdate(engine, case["id"], first_submitted_at=today() - timedelta(days=20))
    case = await drive.get(case["id"])

    response = await drive.post(c.usa, case["id"], "decide", case["version"], decision="denied")
    problem(response, 422, "validation_error")  # a denial needs a reason
    await drive.act(c.usa, case, "decide", decision="denied", reason="Does not qualify")
    case = await drive.get(case["id"])
    assert (case["status"], case["submissions"][0]["status"]) == ("submitted", "denied")
    # Withdrawing needs a live submission.
    response = await drive.post(
        c.boss, case["id"], "withdraw_submission", case["version"], reason="error"
    )
    problem(response, 409, "invalid_transition")

    # Never again to a state that denied the case: 409 conflict, nothing changes.
    response = await drive.post(
        c.boss, case["id"], "resubmit", case["version"], **submission("USA")
    )
    body = problem(response, 409, "conflict")
    assert "USA" in body["detail"]
    await unchanged(drive, case)

    case = await drive.act(c.boss, case, "resubmit", **submission("CAN"))
    assert case["status"] == "submitted"
    assert [
        (s["sequence"], s["resettlement_country"], s["status"]) for s in case["submissions"]
    ] == [
        (1, "USA", "denied"),
        (2, "CAN", "pending"),
    ]
    assert case["first_submitted_at"] == days(-20), "a resubmission does not move the milestone"
    # Each state sees its own submission only.
    can_view = await drive.get(case["id"], c.can)
    assert [s["resettlement_country"] for s in can_view["submissions"]] == ["CAN"]
    assert can_view["previously_submitted_elsewhere"] is True
    usa_view = await drive.get(case["id"], c.usa)
    assert [s["status"] for s in usa_view["submissions"]] == ["denied"]
    # The denying state can no longer decide: the latest submission is not its own.
    response = await drive.post(c.usa, case["id"], "decide", case["version"], decision="accepted")
    problem(response, 403, "forbidden")

    # Withdrawn back to review; a new submit to the denying state is refused as well.
    case = await drive.act(c.boss, case, "withdraw_submission", reason="applicant_request")
    assert case["status"] == "pending_review"
    assert case["submissions"][-1]["withdrawal_reason"] == "applicant_request"
    response = await drive.post(c.boss, case["id"], "submit", case["version"], **submission("USA"))
    problem(response, 409, "conflict")
    case = await drive.act(c.boss, case, "submit", **submission("CAN"))  # withdrawn, not denied
    assert [s["sequence"] for s in case["submissions"]] == [1, 2, 3]
    assert case["first_submitted_at"] == days(-20)

    # Sequences are per case.
    other = await drive.run(await drive.new_case(), SUBMIT_USA)
    assert [s["sequence"] for s in other["submissions"]] == [1]


async def test_refused_transit_then_another_country(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, REQUEST_CRI])
    response = await drive.post(
        c.worker, case["id"], "request_transit", case["version"], transit_country="PAN"
    )
    problem(response, 409, "invalid_transition")  # one active stay at a time
    response = await drive.post(c.pan, case["id"], "authorise_transit", case["version"])
    problem(response, 404, "not_found")  # not PAN's stay
    response = await drive.post(c.cri, case["id"], "refuse_transit", case["version"])
    problem(response, 422, "validation_error")  # a refusal needs a reason

    response = await drive.post(
        c.cri, case["id"], "refuse_transit", case["version"], reason="Quota reached"
    )
    assert response.status_code == 204 and not response.content
    assert etag_version(response) == case["version"] + 1
    response = await drive.client.get(f"/api/v1/cases/{case['id']}", headers=c.cri.headers)
    problem(response, 404, "not_found")  # a refused stay takes the case out of CRI's scope
    case = await drive.get(case["id"])
    assert case["status"] == "submitted"
    assert [s["status"] for s in case["transit_stays"]] == ["refused"]
    assert case["transit_stays"][0]["refusal_reason"] == "Quota reached"

    case = await drive.act(c.worker, case, "request_transit", transit_country="PAN")
    seen = await drive.act(c.pan, case, "authorise_transit")
    seen = await drive.act(c.pan, seen, "record_transit_entry", entered_at=days(0))
    assert seen["status"] == "in_transit"
    assert [s["transit_country"] for s in seen["transit_stays"]] == ["PAN"]
    case = await drive.get(case["id"])
    assert [(s["transit_country"], s["status"]) for s in case["transit_stays"]] == [
        ("CRI", "refused"),
        ("PAN", "in_transit"),
    ]


async def test_withdrawal(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), SUBMIT_USA)
    response = await drive.post(
        c.boss, case["id"], "withdraw_submission", case["version"], reason="changed my mind"
    )
    problem(response, 422, "validation_error")  # reasons come from a list
    response = await drive.post(
        c.worker, case["id"], "withdraw_submission", case["version"], reason="error"
    )
    problem(response, 403, "forbidden")  # supervisors only
    case = await drive.act(c.boss, case, "withdraw_submission", reason="exceptional")
    assert case["status"] == "pending_review"
    assert case["submissions"][0]["status"] == "withdrawn"

    # A case in transit stays in transit; the stay goes on; it can be resubmitted.
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    case = await drive.act(c.boss, case, "withdraw_submission", reason="error")
    assert case["status"] == "in_transit"
    assert case["transit_stays"][0]["status"] == "in_transit"
    case = await drive.act(c.boss, case, "resubmit", **submission("USA"))  # withdrawn, not denied
    assert [(s["sequence"], s["status"]) for s in case["submissions"]] == [
        (1, "withdrawn"),
        (2, "pending"),
    ]
    assert case["status"] == "in_transit"


async def test_close_and_reopen(drive: Driver, engine: AsyncEngine) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(identified_at=days(-60)), IN_TRANSIT)
    milestones = {
        "identified_at": today() - timedelta(days=60),
        "first_submitted_at": today() - timedelta(days=50),
        "transit_entered_at": today() - timedelta(days=40),
    }
    await backdate(engine, case["id"], **milestones)
    case = await drive.get(case["id"])

    response = await drive.post(c.boss, case["id"], "close", case["version"])
    problem(response, 422, "validation_error")
    response = await drive.post(c.boss, case["id"], "close", case["version"], reason="bored")
    problem(response, 422, "validation_error")
    response = await drive.post(c.worker, case["id"], "close", case["version"], reason="other")
    problem(response, 403, "forbidden")
    response = await drive.post(c.boss, case["id"], "reopen", case["version"], reason="x")
    problem(response, 409, "invalid_transition")
    await unchanged(drive, case)

    closed = await drive.act(c.boss, case, "close", reason="lost_contact", note="No answer")
    assert (closed["status"], closed["stage"], closed["closure_reason"]) == (
        "closed",
        "closed",
        "lost_contact",
    )
    assert closed["closed_at"] is not None
    assert closed["submissions"][0]["status"] == "withdrawn", "the live submission is withdrawn"
    stay = closed["transit_stays"][0]
    assert (stay["status"], stay["exit_reason"], stay["exited_at"]) == (
        "exited",
        "case_closed",
        days(0),
    )
    for name, value in milestones.items():
        assert closed[name] == value.isoformat()
    response = await drive.post(c.boss, case["id"], "close", closed["version"], reason="other")
    problem(response, 409, "invalid_transition")
    response = await drive.post(c.boss, case["id"], "reopen", closed["version"])
    problem(response, 422, "validation_error")  # a reason is required

    reopened = await drive.act(c.boss, closed, "reopen", reason="Family found again")
    assert (reopened["status"], reopened["stage"]) == ("in_transit", "transit")
    assert reopened["closure_reason"] is None
    for name, value in milestones.items():
        assert reopened[name] == value.isoformat(), f"reopen moved {name}"
    # What closing ended stays ended: the submission is withdrawn, the stay has exited.
    assert reopened["submissions"][0]["status"] == "withdrawn"
    assert reopened["transit_stays"][0]["status"] == "exited"
    reopened = await drive.act(c.boss, reopened, "resubmit", **submission("CAN"))
    assert reopened["first_submitted_at"] == milestones["first_submitted_at"].isoformat()
    assert shape(await drive.events(case["id"]))[-3:] == [
        ("close", "in_transit", "closed"),
        ("reopen", "closed", "in_transit"),
        ("resubmit", "in_transit", "in_transit"),
    ]

    # From the first status too: closed before any work, reopened to identified.
    early = await drive.new_case()
    early = await drive.act(c.boss, early, "close", reason="no_longer_at_risk")
    early = await drive.act(c.boss, early, "reopen", reason="At risk again")
    assert early["status"] == "identified"
    assert early["submissions"] == [] and early["transit_stays"] == []

    # An accepted submission is live, so closing withdraws it too.
    accepted = await drive.run(await drive.new_case(pathway="in_country"), [*SUBMIT_USA, ACCEPT])
    accepted = await drive.act(c.boss, accepted, "close", reason="withdrawn_by_applicant")
    assert accepted["submissions"][0]["status"] == "withdrawn"
    accepted = await drive.act(c.boss, accepted, "reopen", reason="Changed mind")
    assert accepted["status"] == "submitted"
    response = await drive.post(
        c.worker, accepted["id"], "record_departure", accepted["version"], departed_at=days(0)
    )
    problem(response, 409, "invalid_transition")


async def test_requested_stay_exits_on_close(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, REQUEST_CRI, AUTHORISE_CRI])
    case = await drive.get(case["id"])
    closed = await drive.act(c.boss, case, "close", reason="onward_movement")
    assert [(s["status"], s["exit_reason"]) for s in closed["transit_stays"]] == [
        ("exited", "case_closed")
    ]
    reopened = await drive.act(c.boss, closed, "reopen", reason="Back")
    assert reopened["status"] == "submitted"
    reopened = await drive.act(c.worker, reopened, "request_transit", transit_country="CRI")
    assert [s["status"] for s in reopened["transit_stays"]] == ["exited", "requested"]


# Rules -----------------------------------------------------------------------------------------
async def test_extension_rules(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    until = case["transit_stays"][0]["authorised_until"]
    assert until == days(180)
    for same_or_earlier in (days(180), days(179), days(10)):
        response = await drive.post(
            c.cri, case["id"], "extend_transit", case["version"], authorised_until=same_or_earlier
        )
        body = problem(response, 409, "conflict")
        assert until in body["detail"]
    await unchanged(drive, case)
    response = await drive.post(
        c.cri, case["id"], "extend_transit", case["version"], authorised_until="next year"
    )
    problem(response, 422, "validation_error")
    response = await drive.post(
        c.pan, case["id"], "extend_transit", case["version"], authorised_until=days(200)
    )
    problem(response, 404, "not_found")
    response = await drive.post(
        c.worker, case["id"], "extend_transit", case["version"], authorised_until=days(200)
    )
    problem(response, 403, "forbidden")

    seen = await drive.act(c.cri, case, "extend_transit", authorised_until=days(200))
    assert seen["transit_stays"][0]["authorised_until"] == days(200)
    response = await drive.post(
        c.cri, case["id"], "extend_transit", seen["version"], authorised_until=days(200)
    )
    problem(response, 409, "conflict")  # only forward
    seen = await drive.act(c.cri, seen, "extend_transit", authorised_until=days(365))
    case = await drive.get(case["id"])
    assert case["transit_stays"][0]["authorised_until"] == days(365)
    assert case["transit_stays"][0]["entered_at"] == days(0)
    events = await drive.events(case["id"])
    assert [e["payload"].get("authorised_until") for e in events[-2:]] == [days(200), days(365)]
    # Once the household has left, the stay can no longer be extended.
    case = await drive.run(
        case, [ACCEPT, ("worker", "record_departure", {"departed_at": "<today>"})]
    )
    response = await drive.post(
        c.cri, case["id"], "extend_transit", case["version"], authorised_until=days(400)
    )
    problem(response, 409, "invalid_transition")


async def test_date_rules(drive: Driver, engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    c = drive.cast
    # identified_at: past allowed, future refused.
    response = await client.post(
        "/api/v1/cases",
        json=case_body(identified_at=days(1)),
        headers=c.worker.headers,
    )
    problem(response, 422, "validation_error")

    case = await drive.run(
        await drive.new_case(identified_at=days(-90)), [*SUBMIT_USA, REQUEST_CRI, AUTHORISE_CRI]
    )
    # The future is refused (422) before anything else is looked at.
    response = await drive.post(
        c.cri, case["id"], "record_transit_entry", case["version"], entered_at=days(1)
    )
    problem(response, 422, "validation_error")
    response = await drive.post(
        c.cri, case["id"], "record_transit_entry", case["version"], entered_at="2025-1-5"
    )
    problem(response, 422, "validation_error")
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], departed_at=days(1)
    )
    problem(response, 422, "validation_error")  # even though departure is not available
    response = await drive.post(
        c.cri,
        "00000000-0000-7000-8000-000000000000",
        "record_transit_entry",
        1,
        entered_at=days(1),
    )
    problem(response, 422, "validation_error")  # 422 before 404
    # Not before the previous milestone (the first submission, today): 409 conflict.
    response = await drive.post(
        c.cri, case["id"], "record_transit_entry", case["version"], entered_at=days(-1)
    )
    problem(response, 409, "conflict")
    await unchanged(drive, case)

    # Facts recorded after they happened: dates in the past are fine, in order.
    await backdate(engine, case["id"], first_submitted_at=today() - timedelta(days=30))
    response = await drive.post(
        c.cri, case["id"], "record_transit_entry", case["version"], entered_at=days(-31)
    )
    problem(response, 409, "conflict")
    seen = await drive.act(c.cri, case, "record_transit_entry", entered_at=days(-30))
    assert seen["transit_stays"][0]["authorised_until"] == days(150)
    await drive.act(c.usa, seen, "decide", decision="accepted")
    case = await drive.get(case["id"])
    assert case["transit_entered_at"] == days(-30)
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], departed_at=days(-31)
    )
    problem(response, 409, "conflict")
    case = await drive.act(c.worker, case, "record_departure", departed_at=days(-10))
    assert case["departed_at"] == days(-10)
    assert case["transit_stays"][0]["exited_at"] == days(-10)
    response = await drive.post(
        c.boss, case["id"], "confirm_arrival", case["version"], arrived_at=days(-11)
    )
    problem(response, 409, "conflict")
    response = await drive.post(
        c.boss, case["id"], "confirm_arrival", case["version"], arrived_at=days(1)
    )
    problem(response, 422, "validation_error")
    case = await drive.act(c.boss, case, "confirm_arrival", arrived_at=days(-10))  # same day
    assert case["resettled_at"] == days(-10)
    assert [
        case[k]
        for k in (
            "identified_at",
            "first_submitted_at",
            "transit_entered_at",
            "departed_at",
            "resettled_at",
        )
    ] == [days(-90), days(-30), days(-30), days(-10), days(-10)]


async def test_four_eyes(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), START_BY_BOSS)
    assert case["drafted_by"] == str(c.boss.id)
    response = await drive.post(c.boss, case["id"], "submit", case["version"], **submission("USA"))
    body = problem(response, 403, "four_eyes")
    assert "four eyes" in body["detail"].lower()
    await unchanged(drive, case)
    response = await drive.post(
        c.worker, case["id"], "submit", case["version"], **submission("USA")
    )
    problem(response, 403, "forbidden")  # caseworkers never submit
    # Four eyes before If-Match and state: a stale version still answers 403.
    response = await drive.post(c.boss, case["id"], "submit", 1, **submission("USA"))
    problem(response, 403, "four_eyes")
    case = await drive.act(c.boss2, case, "submit", **submission("USA"))
    assert case["submissions"][0]["submitted_by"] == str(c.boss2.id)

    # Back to review after a withdrawal: the drafter still may not submit it.
    case = await drive.act(c.boss2, case, "withdraw_submission", reason="error")
    response = await drive.post(c.boss, case["id"], "submit", case["version"], **submission("CAN"))
    problem(response, 403, "four_eyes")
    # A new request for review by someone else makes them the drafter.
    case = await drive.act(c.boss2, case, "return_to_assessment", reason="Update the RRF")
    case = await drive.act(c.worker, case, "request_review")
    assert case["drafted_by"] == str(c.worker.id)
    case = await drive.act(c.boss, case, "submit", **submission("CAN"))
    assert case["status"] == "submitted"


START_BY_BOSS: list[ScenarioStep] = [
    ("boss", "start_assessment", {}),
    ("boss", "request_review", {}),
]


async def test_if_match(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), REVIEW)
    assert case["version"] == 3
    missing = await drive.post(c.boss, case["id"], "submit", None, **submission("USA"))
    body = problem(missing, 428, "precondition_required")
    assert "If-Match" in body["detail"]
    for stale in (1, 2, 4, '"abc"'):
        response = await drive.post(c.boss, case["id"], "submit", stale, **submission("USA"))
        problem(response, 412, "precondition_failed")
    await unchanged(drive, case)
    # If-Match is checked after 404/403 and before 409.
    response = await drive.post(
        c.boss, "00000000-0000-7000-8000-000000000000", "close", None, reason="other"
    )
    problem(response, 404, "not_found")
    response = await drive.post(c.worker, case["id"], "submit", None, **submission("USA"))
    problem(response, 403, "forbidden")
    response = await drive.post(c.boss, case["id"], "reopen", None, reason="x")
    problem(response, 428, "precondition_required")
    response = await drive.post(c.boss, case["id"], "reopen", 1, reason="x")
    problem(response, 412, "precondition_failed")
    response = await drive.post(c.boss, case["id"], "submit", None, resettlement_country="USA")
    problem(response, 422, "validation_error")  # 422 before 428
    await unchanged(drive, case)

    # The ETag names the version; a list of tags is refused (api.md: exactly one entity-tag).
    response = await drive.post(c.boss, case["id"], "submit", '"2", "3"', **submission("USA"))
    problem(response, 428, "precondition_required")
    response = await drive.post(c.boss, case["id"], "submit", '"3"', **submission("USA"))
    assert response.status_code == 200, response.text
    assert etag_version(response) == response.json()["version"] == 4
    response = await drive.client.get(f"/api/v1/cases/{case['id']}", headers=c.boss.headers)
    assert response.headers["ETag"] == '"4"'

    # PATCH too.
    response = await drive.patch(c.worker, case["id"], None, processing_priority="normal")
    problem(response, 428, "precondition_required")
    response = await drive.patch(c.worker, case["id"], 3, processing_priority="normal")
    problem(response, 412, "precondition_failed")
    case = await drive.get(case["id"])
    assert case["processing_priority"] == "urgent" and case["version"] == 4
    await unchanged(drive, case)


async def test_versions_and_events_per_write(drive: Driver) -> None:
    """Every write (create, transition, PATCH) adds one version and one event."""
    c = drive.cast
    case = await drive.new_case()
    case = await drive.act(c.worker, case, "start_assessment")
    response = await drive.patch(c.worker, case["id"], case["version"], referral_source="Radio")
    assert response.status_code == 200 and response.json()["version"] == 3
    case = await drive.act(c.worker, response.json(), "request_review")
    assert case["version"] == 4
    events = await drive.events(case["id"])
    assert shape(events) == [
        ("create", None, "identified"),
        ("start_assessment", "identified", "assessment"),
        ("update", "assessment", "assessment"),
        ("request_review", "assessment", "pending_review"),
    ]
    assert [e["user_id"] for e in events] == [str(c.worker.id)] * 4
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)


async def test_arrival_is_confirmed_by_the_accepting_state(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(
        await drive.new_case(pathway="in_country"),
        [
            *SUBMIT_USA,
            ("usa", "decide", {"decision": "denied", "reason": "No"}),
            ("boss", "resubmit", submission("CAN")),
            ("can", "decide", {"decision": "accepted"}),
            ("worker", "record_departure", {"departed_at": "<today>"}),
        ],
    )
    assert case["status"] == "departed"
    # USA still sees the case (its denied submission) but is not the accepting state.
    response = await drive.post(
        c.usa, case["id"], "confirm_arrival", case["version"], arrived_at=days(0)
    )
    problem(response, 403, "forbidden")
    response = await drive.post(
        c.aus, case["id"], "confirm_arrival", case["version"], arrived_at=days(0)
    )
    problem(response, 404, "not_found")
    seen = await drive.act(c.can, case, "confirm_arrival", arrived_at=days(0))
    assert seen["status"] == "resettled"
