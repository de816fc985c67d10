"""Requests for information (domain.md: ``decide`` with ``information_requested``,
``provide_information``): the state's question and UNHCR's answer on the submission, seen by
UNHCR and that state's officer alike; the events as each officer sees them; bad input changes
nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory
from tests.lifecycle_helpers import (
    ANSWER,
    ASK,
    REQUEST_CRI,
    SUBMIT_USA,
    Cast,
    Driver,
    make_cast,
    problem,
    submission,
)

QUESTION = ASK[2]["reason"]
REPLY = ANSWER[2]["note"]


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


async def _asked(drive: Driver) -> dict[str, Any]:
    """A case submitted to CAN and denied, then to USA, which asked a question; a stay in CRI
    requested (so the transit officer of CRI sees the case)."""
    case = await drive.new_case()
    deny_can = ("can", "decide", {"decision": "denied", "reason": "Outside our quota"})
    steps = [
        *SUBMIT_USA[:-1],
        ("boss", "submit", submission("CAN")),
        deny_can,
        ("boss", "resubmit", submission("USA")),
        REQUEST_CRI,
        ASK,
    ]
    return await drive.run(case, steps)


async def _unchanged(drive: Driver, case: dict[str, Any], events: int) -> None:
    now = await drive.get(case["id"])
    assert now == case
    assert len(await drive.events(case["id"])) == events


async def test_question_and_answer_are_shown_to_unhcr_and_that_state(drive: Driver) -> None:
    c: Cast = drive.cast
    case = await _asked(drive)
    latest = case["submissions"][-1]
    assert latest["status"] == "information_requested"
    assert latest["decision_reason"] == QUESTION
    (asked,) = latest["information_requests"]
    assert asked["question"] == QUESTION and asked["answer"] is None
    assert asked["answered_at"] is None and asked["asked_at"].endswith("Z")
    assert case["submissions"][0]["information_requests"] == []

    # withdraw_submission, decide and provide_information are available from it
    wrong = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], departed_at="2020-01-01"
    )
    detail = problem(wrong, 409, "invalid_transition")["detail"]
    for action in ("decide", "provide_information", "withdraw_submission"):
        assert action in detail

    answered = await drive.act(c.worker, case, "provide_information", note=REPLY)
    assert answered["status"] == "submitted"
    latest = answered["submissions"][-1]
    assert latest["status"] == "pending"
    (asked,) = latest["information_requests"]
    assert asked["question"] == QUESTION and asked["answer"] == REPLY
    assert asked["answered_at"] is not None

    # A second question, answered again: the list keeps both, oldest first.
    second = await drive.act(
        c.usa, answered, "decide", decision="information_requested", reason="And the documents?"
    )
    second = await drive.act(c.boss, second, "provide_information", note="Attached.")
    questions = second["submissions"][-1]["information_requests"]
    assert [(q["question"], q["answer"]) for q in questions] == [
        (QUESTION, REPLY),
        ("And the documents?", "Attached."),
    ]

    usa_view = await drive.get(case["id"], c.usa)
    (own,) = usa_view["submissions"]
    assert own["information_requests"] == questions
    can_view = await drive.get(case["id"], c.can)
    (can_own,) = can_view["submissions"]
    assert can_own["resettlement_country"] == "CAN"
    assert can_own["information_requests"] == []
    cri_view = await drive.get(case["id"], c.cri)
    assert cri_view["submissions"] == [  # the live submission only, and never its questions
        {
            "resettlement_country": "USA",
            "status": "pending",
            "accepted_members": None,
            "split": False,
        }
    ]

    # The state decides from information_requested too.
    again = await drive.act(
        c.usa, second, "decide", decision="information_requested", reason="One more thing"
    )
    accepted = await drive.act(c.usa, again, "decide", decision="accepted")
    assert accepted["submissions"][-1]["status"] == "accepted"
    assert len(accepted["submissions"][-1]["information_requests"]) == 3


async def test_a_request_for_information_can_be_withdrawn(drive: Driver) -> None:
    c = drive.cast
    case = await _asked(drive)
    withdrawn = await drive.act(c.boss, case, "withdraw_submission", reason="applicant_request")
    assert withdrawn["status"] == "pending_review"
    assert withdrawn["submissions"][-1]["status"] == "withdrawn"
    assert withdrawn["submissions"][-1]["information_requests"][0]["question"] == QUESTION


async def test_information_requested_is_a_live_submission(drive: Driver) -> None:
    """While the state waits for an answer its officer sees the protection summary, and the
    transit officer sees the submission as the live one."""
    c = drive.cast
    case = await _asked(drive)
    assert (await drive.get(case["id"], c.usa))["protection_summary"] is not None
    assert (await drive.get(case["id"], c.can))["protection_summary"] is None


async def test_bad_requests_change_nothing(drive: Driver) -> None:
    c = drive.cast
    case = await _asked(drive)
    events = len(await drive.events(case["id"]))
    cid, version = case["id"], case["version"]

    no_question = await drive.post(c.usa, cid, "decide", version, decision="information_requested")
    problem(no_question, 422, "validation_error")
    no_answer = await drive.post(c.worker, cid, "provide_information", version)
    problem(no_answer, 422, "validation_error")
    blank = await drive.post(c.worker, cid, "provide_information", version, note="   ")
    problem(blank, 422, "validation_error")
    by_state = await drive.post(c.usa, cid, "provide_information", version, note="x")
    problem(by_state, 403, "forbidden")
    by_transit = await drive.post(c.cri, cid, "provide_information", version, note="x")
    problem(by_transit, 403, "forbidden")
    other_state = await drive.post(c.can, cid, "decide", version, decision="accepted")
    problem(other_state, 403, "forbidden")
    stale = await drive.post(c.worker, cid, "provide_information", version - 1, note="x")
    problem(stale, 412, "precondition_failed")
    await _unchanged(drive, case, events)

    answered = await drive.act(c.worker, case, "provide_information", note=REPLY)
    events += 1
    twice = await drive.post(c.worker, cid, "provide_information", answered["version"], note="x")
    problem(twice, 409, "invalid_transition")
    await _unchanged(drive, answered, events)


async def test_events_as_each_reader_sees_them(drive: Driver) -> None:
    c = drive.cast
    case = await _asked(drive)
    await drive.act(c.worker, case, "provide_information", note=REPLY)

    def pick(events: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in events if e["action"] == action]

    unhcr = await drive.events(case["id"])
    assert pick(unhcr, "provide_information") == [{"answer": REPLY}]
    assert {"decision": "information_requested", "reason": QUESTION} in pick(unhcr, "decide")

    usa = await drive.events(case["id"], c.usa)
    assert pick(usa, "provide_information") == [{"answer": REPLY}]
    assert pick(usa, "decide") == [{"decision": "information_requested", "reason": QUESTION}]

    can = await drive.events(case["id"], c.can)
    assert pick(can, "provide_information") == []
    assert pick(can, "decide") == [{"decision": "denied", "reason": "Outside our quota"}]

    cri = await drive.events(case["id"], c.cri)
    assert pick(cri, "provide_information") == [] and pick(cri, "decide") == []
