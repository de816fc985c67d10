"""Helpers for the lifecycle tests: a cast of users, HTTP shortcuts, and a driver that takes a
new case to any status (with the sub-states of its latest submission and stay) through the API.

Everything here is written from the contract (docs: api.md, domain.md), never from the
service's own tables, so the tests built on it can fail.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Case

# The cast, today and the problem assert live in tests/common.py; re-exported for the
# lifecycle tests that import them from here.
from tests.common import SUBMISSION as SUBMISSION
from tests.common import Cast as Cast
from tests.common import assert_problem
from tests.common import days as days
from tests.common import make_cast as make_cast
from tests.common import today as today
from tests.factories import Factory, TestUser

API = "/api/v1"

#: Every action of domain.md's actions table, in its order.
ACTIONS: tuple[str, ...] = (
    "start_assessment",
    "request_review",
    "return_to_assessment",
    "submit",
    "decide",
    "provide_information",
    "update_requirement",
    "resubmit",
    "withdraw_submission",
    "request_transit",
    "authorise_transit",
    "refuse_transit",
    "record_transit_entry",
    "extend_transit",
    "record_departure",
    "confirm_arrival",
    "close",
    "reopen",
    "split_case",
    "set_legal_hold",
)


def iso(day: date) -> str:
    return day.isoformat()


def submission(country: str) -> dict[str, Any]:
    return {"resettlement_country": country, **SUBMISSION}


def etag_version(response: httpx.Response) -> int:
    tag = response.headers["ETag"]
    match = re.fullmatch(r'(?:W/)?"(\d+)"', tag)
    assert match, tag
    return int(match.group(1))


class Http:
    """Small HTTP shortcuts over the test client."""

    def __init__(self, client: httpx.AsyncClient, cast: Cast) -> None:
        self.client, self.cast = client, cast

    async def get(self, case_id: str, by: TestUser | None = None) -> dict[str, Any]:
        response = await self.client.get(
            f"{API}/cases/{case_id}", headers=(by or self.cast.boss).headers
        )
        assert response.status_code == 200, response.text
        assert etag_version(response) == response.json()["version"]
        body: dict[str, Any] = response.json()
        return body

    async def events(self, case_id: str, by: TestUser | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            response = await self.client.get(
                f"{API}/cases/{case_id}/events",
                params=params,
                headers=(by or self.cast.boss).headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return items

    async def post(
        self,
        by: TestUser,
        case_id: str,
        action: str,
        version: int | str | None,
        /,
        *,
        key: str | None = None,
        **fields: Any,
    ) -> httpx.Response:
        headers = dict(by.headers)
        if version is not None:
            headers["If-Match"] = version if isinstance(version, str) else f'"{version}"'
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post(
            f"{API}/cases/{case_id}/transitions",
            json={"action": action, **fields},
            headers=headers,
        )

    async def act(
        self, by: TestUser, case: dict[str, Any], action: str, **fields: Any
    ) -> dict[str, Any]:
        """Take an action at the case's version; return ``{"id", "version"}`` plus the view the
        caller got (204 answers give the id and the new version only)."""
        response = await self.post(by, case["id"], action, case["version"], **fields)
        assert response.status_code in (200, 204), f"{action}: {response.text}"
        if response.status_code == 204:
            assert not response.content
            return {"id": case["id"], "version": etag_version(response)}
        body: dict[str, Any] = response.json()
        assert etag_version(response) == body["version"]
        return body

    async def patch(
        self, by: TestUser, case_id: str, version: int | str | None, /, **fields: Any
    ) -> httpx.Response:
        headers = dict(by.headers)
        if version is not None:
            headers["If-Match"] = version if isinstance(version, str) else f'"{version}"'
        return await self.client.patch(f"{API}/cases/{case_id}", json=fields, headers=headers)


#: Every error answer is checked by the one assert of tests/common.py.
problem = assert_problem


# Scenarios -----------------------------------------------------------------------------------
ScenarioStep = tuple[str, str, dict[str, Any]]  # (cast member, action, fields)

START: list[ScenarioStep] = [("worker", "start_assessment", {})]
REVIEW: list[ScenarioStep] = [*START, ("worker", "request_review", {})]
SUBMIT_USA: list[ScenarioStep] = [*REVIEW, ("boss", "submit", submission("USA"))]
REQUEST_CRI: ScenarioStep = ("worker", "request_transit", {"transit_country": "CRI"})
AUTHORISE_CRI: ScenarioStep = ("cri", "authorise_transit", {"note": "cleared"})
ENTER_CRI: ScenarioStep = ("cri", "record_transit_entry", {"entered_at": "<today>"})
IN_TRANSIT: list[ScenarioStep] = [*SUBMIT_USA, REQUEST_CRI, AUTHORISE_CRI, ENTER_CRI]
ACCEPT: ScenarioStep = ("usa", "decide", {"decision": "accepted"})
DENY: ScenarioStep = ("usa", "decide", {"decision": "denied", "reason": "Not eligible"})
HOLD: ScenarioStep = ("usa", "decide", {"decision": "on_hold", "reason": "Security check"})
WITHDRAW: ScenarioStep = ("boss", "withdraw_submission", {"reason": "error"})
CLOSE: ScenarioStep = ("boss", "close", {"reason": "other", "note": "test"})
REOPEN: ScenarioStep = ("boss", "reopen", {"reason": "new information"})
DEPART: ScenarioStep = ("worker", "record_departure", {"departed_at": "<today>"})
#: A split decision: the state accepts every member but the last (filled in from the case).
ACCEPT_SPLIT: ScenarioStep = (
    "usa",
    "decide",
    {"decision": "accepted", "accepted_members": "<accepted>"},
)
SPLIT: ScenarioStep = (
    "boss",
    "split_case",
    {"members": "<left out>", "principal": "<left out principal>", "reason": "split"},
)
ASK: ScenarioStep = (
    "usa",
    "decide",
    {"decision": "information_requested", "reason": "Who is Ana?"},
)
ANSWER: ScenarioStep = ("worker", "provide_information", {"note": "Ana is the principal's niece."})
#: The default departure checklist (domain.md) completed: every item done or waived.
CLEAR: list[ScenarioStep] = [
    ("worker", "update_requirement", {"item": item, "status": "done", "done_on": "<today>"})
    for item in ("medical_clearance", "security_clearance", "exit_permit", "travel_document")
] + [
    ("worker", "update_requirement", {"item": item, "status": "waived", "note": "not needed"})
    for item in ("cultural_orientation", "travel_booked")
]


@dataclass(frozen=True)
class Scenario:
    """A case state reached by ``steps`` from a new case on ``pathway``; ``expect`` is
    ``(status, latest submission status, latest stay status)`` as the contract says it is."""

    steps: Sequence[ScenarioStep]
    expect: tuple[str, str | None, str | None]
    pathway: str = "transit"
    #: for a closed case: the status before closing (reopen goes back to it)
    before_close: str | None = None
    #: the accepted submission left out a current member (domain.md "Split decisions")
    open_split: bool = False


SCENARIOS: dict[str, Scenario] = {
    "identified": Scenario([], ("identified", None, None)),
    "assessment": Scenario(START, ("assessment", None, None)),
    "pending_review": Scenario(REVIEW, ("pending_review", None, None)),
    "pending_review/withdrawn": Scenario(
        [*SUBMIT_USA, WITHDRAW], ("pending_review", "withdrawn", None)
    ),
    "assessment/withdrawn": Scenario(
        [*SUBMIT_USA, WITHDRAW, ("boss", "return_to_assessment", {"reason": "redo"})],
        ("assessment", "withdrawn", None),
    ),
    "submitted/pending": Scenario(SUBMIT_USA, ("submitted", "pending", None)),
    "submitted/on_hold": Scenario([*SUBMIT_USA, HOLD], ("submitted", "on_hold", None)),
    "submitted/accepted": Scenario([*SUBMIT_USA, ACCEPT], ("submitted", "accepted", None)),
    "submitted/information_requested": Scenario(
        [*SUBMIT_USA, ASK], ("submitted", "information_requested", None)
    ),
    "submitted/pending (information provided)": Scenario(
        [*SUBMIT_USA, ASK, ANSWER], ("submitted", "pending", None)
    ),
    "submitted/denied": Scenario([*SUBMIT_USA, DENY], ("submitted", "denied", None)),
    "submitted/pending+requested": Scenario(
        [*SUBMIT_USA, REQUEST_CRI], ("submitted", "pending", "requested")
    ),
    "submitted/pending+authorised": Scenario(
        [*SUBMIT_USA, REQUEST_CRI, AUTHORISE_CRI], ("submitted", "pending", "authorised")
    ),
    "submitted/pending+refused": Scenario(
        [*SUBMIT_USA, REQUEST_CRI, ("cri", "refuse_transit", {"reason": "no"})],
        ("submitted", "pending", "refused"),
    ),
    "submitted/accepted+authorised": Scenario(
        [*SUBMIT_USA, REQUEST_CRI, AUTHORISE_CRI, ACCEPT], ("submitted", "accepted", "authorised")
    ),
    "submitted/denied+requested": Scenario(
        [*SUBMIT_USA, REQUEST_CRI, DENY], ("submitted", "denied", "requested")
    ),
    "submitted/withdrawn+exited (reopened)": Scenario(
        [*SUBMIT_USA, REQUEST_CRI, CLOSE, REOPEN], ("submitted", "withdrawn", "exited")
    ),
    "in_transit/pending": Scenario(IN_TRANSIT, ("in_transit", "pending", "in_transit")),
    "in_transit/on_hold": Scenario([*IN_TRANSIT, HOLD], ("in_transit", "on_hold", "in_transit")),
    "in_transit/accepted": Scenario(
        [*IN_TRANSIT, ACCEPT, *CLEAR], ("in_transit", "accepted", "in_transit")
    ),
    "in_transit/information_requested": Scenario(
        [*IN_TRANSIT, ASK], ("in_transit", "information_requested", "in_transit")
    ),
    "in_transit/denied": Scenario([*IN_TRANSIT, DENY], ("in_transit", "denied", "in_transit")),
    "in_transit/withdrawn": Scenario(
        [*IN_TRANSIT, WITHDRAW], ("in_transit", "withdrawn", "in_transit")
    ),
    "in_transit/withdrawn+exited (reopened)": Scenario(
        [*IN_TRANSIT, ACCEPT, CLOSE, REOPEN], ("in_transit", "withdrawn", "exited")
    ),
    "departed": Scenario([*IN_TRANSIT, ACCEPT, *CLEAR, DEPART], ("departed", "accepted", "exited")),
    "resettled": Scenario(
        [
            *IN_TRANSIT,
            ACCEPT,
            *CLEAR,
            DEPART,
            ("usa", "confirm_arrival", {"arrived_at": "<today>"}),
        ],
        ("resettled", "accepted", "exited"),
    ),
    "closed/from_identified": Scenario([CLOSE], ("closed", None, None), before_close="identified"),
    "closed/from_in_transit": Scenario(
        [*IN_TRANSIT, CLOSE], ("closed", "withdrawn", "exited"), before_close="in_transit"
    ),
    "closed/from_departed": Scenario(
        [*IN_TRANSIT, ACCEPT, *CLEAR, DEPART, CLOSE],
        ("closed", "withdrawn", "exited"),
        before_close="departed",
    ),
    "in_country:submitted/pending": Scenario(
        SUBMIT_USA, ("submitted", "pending", None), pathway="in_country"
    ),
    "in_country:submitted/accepted": Scenario(
        [*SUBMIT_USA, ACCEPT, *CLEAR], ("submitted", "accepted", None), pathway="in_country"
    ),
    "in_country:submitted/denied": Scenario(
        [*SUBMIT_USA, DENY], ("submitted", "denied", None), pathway="in_country"
    ),
    "in_country:departed": Scenario(
        [*SUBMIT_USA, ACCEPT, *CLEAR, DEPART], ("departed", "accepted", None), pathway="in_country"
    ),
    "submitted/accepted (split)": Scenario(
        [*SUBMIT_USA, ACCEPT_SPLIT], ("submitted", "accepted", None), open_split=True
    ),
    "in_transit/accepted (split)": Scenario(
        [*IN_TRANSIT, ACCEPT_SPLIT], ("in_transit", "accepted", "in_transit"), open_split=True
    ),
    "in_transit/accepted (split resolved)": Scenario(
        [*IN_TRANSIT, ACCEPT_SPLIT, SPLIT, *CLEAR], ("in_transit", "accepted", "in_transit")
    ),
    "in_country:submitted/accepted (split)": Scenario(
        [*SUBMIT_USA, ACCEPT_SPLIT],
        ("submitted", "accepted", None),
        pathway="in_country",
        open_split=True,
    ),
}


def _fill(fields: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """Today's date, and the member ids of a split decision: the state accepts every member
    but the last; split_case moves the members left out."""
    ids = [m["id"] for m in case.get("members", ())]
    moving = left_out(case)
    values: dict[str, Any] = {
        "<today>": iso(today()),
        "<accepted>": ids[:-1],
        "<left out>": moving,
        "<left out principal>": moving[0] if moving else None,
    }
    return {k: (values[v] if isinstance(v, str) and v in values else v) for k, v in fields.items()}


def left_out(case: dict[str, Any]) -> list[str]:
    """The current members the accepted latest submission did not accept (an open split)."""
    subs = case.get("submissions") or []
    if not subs or subs[-1]["status"] != "accepted":
        return []
    accepted = set(subs[-1].get("accepted_members") or ())
    return [m["id"] for m in case.get("members", ()) if m["id"] not in accepted]


def state_of(case: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(status, latest submission status, latest stay status) of a full (UNHCR) view."""
    subs, stays = case["submissions"], case["transit_stays"]
    return (
        case["status"],
        subs[-1]["status"] if subs else None,
        stays[-1]["status"] if stays else None,
    )


class Driver(Http):
    """Takes new cases through the API to a named scenario."""

    def __init__(self, client: httpx.AsyncClient, make: Factory, cast: Cast) -> None:
        super().__init__(client, cast)
        self.make = make

    async def new_case(self, **overrides: Any) -> dict[str, Any]:
        return await self.make.case(self.cast.worker, **overrides)

    async def run(self, case: dict[str, Any], steps: Sequence[ScenarioStep]) -> dict[str, Any]:
        current = {"id": case["id"], "version": case["version"]}
        for who, action, fields in steps:
            full = await self.get(case["id"]) if action in ("decide", "split_case") else {}
            body = await self.act(getattr(self.cast, who), current, action, **_fill(fields, full))
            current = {"id": body["id"], "version": body["version"]}
        return await self.get(case["id"])

    async def build(self, name: str, **overrides: Any) -> dict[str, Any]:
        scenario = SCENARIOS[name]
        case = await self.new_case(pathway=scenario.pathway, **overrides)
        case = await self.run(case, scenario.steps)
        assert state_of(case) == scenario.expect, (name, state_of(case))
        assert bool(left_out(case)) == scenario.open_split, name
        return case


# The contract's actions table, as a function of a case's observable state ------------------
def legal_actions(case: dict[str, Any]) -> set[str]:
    """The actions domain.md's table makes available for this case (UNHCR view)."""
    status, sub, stay = state_of(case)
    pathway = case["pathway"]
    active_stay = stay in ("requested", "authorised", "in_transit")
    legal: set[str] = set()
    if status == "identified":
        legal.add("start_assessment")
    if status == "assessment":
        legal.add("request_review")
    if status == "pending_review":
        legal |= {"return_to_assessment", "submit"}
    if status in ("submitted", "in_transit") and sub in (
        "pending",
        "on_hold",
        "information_requested",
    ):
        legal |= {"decide", "withdraw_submission"}
    if status in ("submitted", "in_transit") and sub == "information_requested":
        legal.add("provide_information")
    if status in ("submitted", "in_transit") and sub == "accepted":
        legal.add("update_requirement")
    if status in ("submitted", "in_transit") and sub in ("denied", "withdrawn"):
        legal.add("resubmit")
    if status == "submitted" and pathway == "transit" and not active_stay:
        legal.add("request_transit")
    if stay == "requested":
        legal |= {"authorise_transit", "refuse_transit"}
    if stay == "authorised" and status == "submitted":
        legal.add("record_transit_entry")
    if stay == "in_transit" and status == "in_transit":
        legal.add("extend_transit")
    if sub == "accepted" and (
        (status == "submitted" and pathway == "in_country") or status == "in_transit"
    ):
        legal.add("record_departure")  # available; an open split makes it a conflict
    if sub == "accepted" and status in ("submitted", "in_transit") and left_out(case):
        legal.add("split_case")
    if status == "departed":
        legal.add("confirm_arrival")
    if status not in ("resettled", "closed"):
        legal.add("close")
    if status == "closed":
        legal.add("reopen")
    legal.add("set_legal_hold")  # any status
    return legal


def conflicts(action: str, case: dict[str, Any]) -> bool:
    """A legal action whose rule fails for this case (409 ``conflict``): departure with an
    open split."""
    return action == "record_departure" and bool(left_out(case))


def sees(user: TestUser, case: dict[str, Any]) -> bool:
    """domain.md's scopes: does this case exist for this user?"""
    if user.role in ("caseworker", "supervisor"):
        return True
    if user.role == "resettlement_officer":
        return any(s["resettlement_country"] == user.country for s in case["submissions"])
    if user.role == "transit_officer":
        return any(
            s["transit_country"] == user.country and s["status"] != "refused"
            for s in case["transit_stays"]
        )
    return False


def actor_for(cast: Cast, action: str, case: dict[str, Any]) -> TestUser:
    """A user whose role the actions table allows to take ``action`` on this case (the
    officer of the country concerned where the action is an officer's)."""
    if action in (
        "start_assessment",
        "request_review",
        "request_transit",
        "record_departure",
        "provide_information",
        "update_requirement",
    ):
        return cast.worker
    if action == "decide":
        subs = case["submissions"]
        return cast.resettlement(subs[-1]["resettlement_country"]) if subs else cast.usa
    if action in ("authorise_transit", "refuse_transit", "record_transit_entry", "extend_transit"):
        stays = case["transit_stays"]
        return cast.transit(stays[-1]["transit_country"]) if stays else cast.cri
    return cast.boss  # supervisor: return_to_assessment, submit, resubmit, withdraw, close, ...


def fields_for(action: str, case: dict[str, Any] | None = None) -> dict[str, Any]:
    """Valid fields for each action (rules that can pass wherever the action is legal)."""
    if action == "split_case":
        # the members left out, or (no split to resolve) the last member
        moving = left_out(case or {}) or [m["id"] for m in (case or {}).get("members", ())][-1:]
        return {"members": moving, "principal": moving[0] if moving else None, "reason": "split"}
    return {
        "return_to_assessment": {"reason": "Missing documents"},
        "submit": submission("AUS"),
        "resubmit": submission("AUS"),
        "decide": {"decision": "accepted"},
        "provide_information": {"note": "The documents are attached."},
        "update_requirement": {"item": "medical_clearance", "due_on": days(30)},
        "withdraw_submission": {"reason": "applicant_request"},
        "request_transit": {"transit_country": "PAN"},
        "authorise_transit": {"note": "ok"},
        "refuse_transit": {"reason": "Quota reached"},
        "record_transit_entry": {"entered_at": days(0)},
        "extend_transit": {"authorised_until": days(400)},
        "record_departure": {"departed_at": days(0)},
        "confirm_arrival": {"arrived_at": days(0)},
        "close": {"reason": "lost_contact"},
        "reopen": {"reason": "Contact restored"},
        "set_legal_hold": {"hold": True, "reason": "Court order 12/2026"},
    }.get(action, {})


def next_status(action: str, case: dict[str, Any], before_close: str | None) -> str:
    """Where a legal action takes the case, by domain.md's table."""
    status: str = case["status"]
    moves = {
        "start_assessment": "assessment",
        "request_review": "pending_review",
        "return_to_assessment": "assessment",
        "submit": "submitted",
        "record_transit_entry": "in_transit",
        "record_departure": "departed",
        "confirm_arrival": "resettled",
        "close": "closed",
    }
    if action in moves:
        return moves[action]
    if action == "withdraw_submission":
        return "pending_review" if status == "submitted" else status
    if action == "reopen":
        assert before_close is not None
        return before_close
    return status  # decide, provide_information, update_requirement, resubmit, transit steps


def action_words(detail: str) -> set[str]:
    return set(re.findall(r"[a-z_]+", detail)) & set(ACTIONS)


async def backdate(engine: AsyncEngine, case_id: str, **dates: date) -> None:
    """Move a case's milestone dates into the past, as if its earlier steps had been taken
    on those days (actions that record "now" can only be taken today in a test)."""
    async with engine.begin() as conn:
        await conn.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**dates))


async def count_cases(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Case))).scalar_one())
