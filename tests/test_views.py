"""What each role receives (domain.md, "Roles and what each may see"; issue 4, part 3): one
household walked through every case endpoint, with the JSON keys of every answer checked
against a literal list per role, events cut per role, 404 bodies that do not tell an invisible
case from a missing one, and list filters that cannot probe outside the caller's view."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.access_helpers import (
    HOME_STATE,
    HOME_TRANSIT,
    OTHER_STATE,
    OTHER_TRANSIT,
    SUBMISSION,
    Builder,
    Json,
    without,
)
from tests.common import Cast, days, make_cast
from tests.factories import Factory, TestUser, case_body

BASE = {"id", "reference", "origin_country", "status", "stage", "version", "updated_at"}
CASE_KEYS = {
    "unhcr": BASE
    | {
        "pathway",
        "processing_priority",
        "referral_source",
        "protection_summary",
        "identified_at",
        "first_submitted_at",
        "transit_entered_at",
        "departed_at",
        "resettled_at",
        "closed_at",
        "closure_reason",
        "created_by",
        "drafted_by",
        "created_at",
        "split_from",
        "split_into",
        "legal_hold",
        "erased_at",
        "members",
        "submissions",
        "transit_stays",
        "departure_requirements",
    },
    "resettlement_officer": BASE
    | {
        "pathway",
        "protection_summary",
        "previously_submitted_elsewhere",
        "members",
        "submissions",
        "transit_stays",
        "departure_requirements",
    },
    "transit_officer": BASE | {"members", "submissions", "transit_stays", "departure_requirements"},
}
MEMBER_KEYS = {
    "unhcr": {
        "id",
        "is_principal",
        "given_name",
        "family_name",
        "sex",
        "date_of_birth",
        "dob_estimated",
        "nationality",
        "relationship",
        "document_number",
    },
    "transit_officer": {
        "id",
        "given_name",
        "family_name",
        "sex",
        "date_of_birth",
        "nationality",
        "document_number",
    },
}
MEMBER_KEYS["resettlement_officer"] = MEMBER_KEYS["unhcr"]
SUBMISSION_STATE_KEYS = {
    "id",
    "sequence",
    "resettlement_country",
    "status",
    "submission_priority",
    "primary_category",
    "secondary_category",
    "submitted_at",
    "decided_at",
    "decision_reason",
    "accepted_members",
    "split",
    "information_requests",
}
SUBMISSION_KEYS = {
    "unhcr": SUBMISSION_STATE_KEYS
    | {"submitted_by", "decided_by", "withdrawn_at", "withdrawal_reason"},
    "resettlement_officer": SUBMISSION_STATE_KEYS,
    "transit_officer": {"resettlement_country", "status", "accepted_members", "split"},
}
STAY_STATE_KEYS = {
    "id",
    "transit_country",
    "status",
    "requested_at",
    "authorised_at",
    "refused_at",
    "entered_at",
    "authorised_until",
    "exited_at",
    "exit_reason",
}
STAY_KEYS = {
    "unhcr": STAY_STATE_KEYS | {"authorisation_note", "refusal_reason"},
    "resettlement_officer": STAY_STATE_KEYS,
    "transit_officer": STAY_STATE_KEYS | {"authorisation_note", "refusal_reason"},
}
EVENT_KEYS = {"id", "at", "action", "from_status", "to_status", "user_id", "role", "payload"}
EVENT_KEYS |= {"hash"}

SUMMARY = "Threatened by a gang after refusing extortion."
REFERRAL = "Referred by a partner shelter"

CREATED = [
    "identified_at",
    "member_count",
    "origin_country",
    "pathway",
    "processing_priority",
    "reference",
]
SUBMITTED = sorted([*SUBMISSION, "resettlement_country"])

#: The history of the household below, as each reader gets it: (action, payload keys).
#: UNHCR gets everything; an officer no event about another state's submission or another
#: country's stay, payloads cut to its view, and no reason or note written by another role.
EVENTS: dict[str, list[tuple[str, list[str]]]] = {
    "unhcr": [
        ("create", CREATED),
        ("update", ["changed"]),
        ("start_assessment", []),
        ("request_review", []),
        ("return_to_assessment", ["reason"]),
        ("request_review", []),
        ("submit", SUBMITTED),
        ("decide", ["decision", "reason"]),
        ("resubmit", SUBMITTED),
        ("request_transit", ["transit_country"]),
        ("refuse_transit", ["reason"]),
        ("request_transit", ["transit_country"]),
        ("authorise_transit", ["note"]),
        ("record_transit_entry", ["authorised_until", "entered_at"]),
        ("decide", ["accepted_members", "decision", "reason", "split"]),
        ("record_departure", ["departed_at"]),
        ("confirm_arrival", ["arrived_at"]),
    ],
    "home_state": [
        ("create", ["origin_country", "pathway", "reference"]),
        ("update", ["changed"]),
        ("start_assessment", []),
        ("request_review", []),
        ("return_to_assessment", []),
        ("request_review", []),
        ("resubmit", SUBMITTED),
        ("request_transit", ["transit_country"]),
        ("refuse_transit", []),
        ("request_transit", ["transit_country"]),
        ("authorise_transit", []),
        ("record_transit_entry", ["authorised_until", "entered_at"]),
        ("decide", ["accepted_members", "decision", "reason", "split"]),
        ("record_departure", ["departed_at"]),
        ("confirm_arrival", ["arrived_at"]),
    ],
    "other_state": [
        ("create", ["origin_country", "pathway", "reference"]),
        ("update", ["changed"]),
        ("start_assessment", []),
        ("request_review", []),
        ("return_to_assessment", []),
        ("request_review", []),
        ("submit", SUBMITTED),
        ("decide", ["decision", "reason"]),
        ("request_transit", ["transit_country"]),
        ("refuse_transit", []),
        ("request_transit", ["transit_country"]),
        ("authorise_transit", []),
        ("record_transit_entry", ["authorised_until", "entered_at"]),
        ("record_departure", ["departed_at"]),
        ("confirm_arrival", ["arrived_at"]),
    ],
    "home_transit": [
        ("create", ["origin_country", "reference"]),
        ("update", ["changed"]),
        ("start_assessment", []),
        ("request_review", []),
        ("return_to_assessment", []),
        ("request_review", []),
        ("request_transit", ["transit_country"]),
        ("authorise_transit", ["note"]),
        ("record_transit_entry", ["authorised_until", "entered_at"]),
        ("record_departure", ["departed_at"]),
        ("confirm_arrival", ["arrived_at"]),
    ],
}


def kind(user: TestUser) -> str:
    return "unhcr" if user.role in ("caseworker", "supervisor") else str(user.role)


def check_case(user: TestUser, body: Json) -> None:
    """Every key of a case answer, at every level, is the one of the caller's view."""
    view = kind(user)
    assert set(body) == CASE_KEYS[view], (user.role, set(body) ^ CASE_KEYS[view])
    for member in body["members"]:
        assert set(member) == MEMBER_KEYS[view], user.role
    for submission in body["submissions"]:
        assert set(submission) == SUBMISSION_KEYS[view], user.role
    for stay in body["transit_stays"]:
        assert set(stay) == STAY_KEYS[view], user.role
    if user.role == "resettlement_officer":
        countries = {s["resettlement_country"] for s in body["submissions"]}
        assert countries <= {user.country}, "another state's submission leaked"
    if user.role == "transit_officer":
        assert {s["transit_country"] for s in body["transit_stays"]} <= {user.country}
        assert len(body["submissions"]) <= 1
        for submission in body["submissions"]:
            assert submission["status"] in ("pending", "on_hold", "accepted")


class Walk:
    """One household, with every answer about it checked against the caller's view."""

    def __init__(self, client: httpx.AsyncClient, make: Factory, people: Cast) -> None:
        self.client, self.make, self.people = client, make, people
        self.case: Json = {}

    @property
    def path(self) -> str:
        return f"/api/v1/cases/{self.case['id']}"

    async def act(self, user: TestUser, action: str, expect: int = 200, **fields: Any) -> Json:
        body = await self.make.act(user, self.case, action, expect, **fields)
        if expect == 200:
            check_case(user, body)
        self.case = await self.read(self.people.worker)
        return body

    async def read(self, user: TestUser) -> Json:
        response = await self.client.get(self.path, headers=user.headers)
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == f'"{response.json()["version"]}"'
        body: Json = response.json()
        check_case(user, body)
        return body

    async def listed(self, user: TestUser, **filters: str) -> list[Json]:
        response = await self.client.get("/api/v1/cases", params=filters, headers=user.headers)
        assert response.status_code == 200, response.text
        items: list[Json] = response.json()["items"]
        for item in items:
            check_case(user, item)
        return items

    async def events(self, user: TestUser) -> list[Json]:
        response = await self.client.get(f"{self.path}/events", headers=user.headers)
        assert response.status_code == 200, response.text
        items: list[Json] = response.json()["items"]
        for item in items:
            assert set(item) == EVENT_KEYS
        return items


async def test_every_case_endpoint_answers_each_role_with_its_view(
    client: httpx.AsyncClient, make: Factory
) -> None:
    people = await make_cast(make)
    walk = Walk(client, make, people)
    worker, boss = people.worker, people.boss
    usa, can = people.usa, people.can
    cri, pan = people.cri, people.pan

    # Create and edit: UNHCR only, answered with the UNHCR view.
    for outsider in (usa, cri, people.manager, people.admin):
        response = await client.post("/api/v1/cases", json=case_body(), headers=outsider.headers)
        assert response.status_code == 403, outsider.role
    walk.case = await make.case(worker, protection_summary=SUMMARY)
    check_case(worker, walk.case)
    response = await client.patch(
        walk.path,
        json={"referral_source": REFERRAL},
        headers={**worker.headers, "If-Match": f'"{walk.case["version"]}"'},
    )
    assert response.status_code == 200, response.text
    check_case(worker, response.json())
    assert response.json()["referral_source"] == REFERRAL
    walk.case = response.json()

    # Review, a return to assessment with a reason, then a submission that CAN denies.
    await walk.act(worker, "start_assessment")
    await walk.act(worker, "request_review")
    await walk.act(boss, "return_to_assessment", reason="The medical report is missing.")
    await walk.act(worker, "request_review")
    await walk.act(boss, "submit", resettlement_country=OTHER_STATE, **SUBMISSION)
    seen = await walk.read(can)
    assert seen["protection_summary"] == SUMMARY, "CAN's submission is pending"
    assert seen["previously_submitted_elsewhere"] is False
    denied = await walk.act(can, "decide", decision="denied", reason="Outside our quota.")
    assert denied["protection_summary"] is None, "CAN's submission is denied"

    # Resubmitted to USA: USA sees only its own submission, CAN only its denied one.
    await walk.act(boss, "resubmit", resettlement_country=HOME_STATE, **SUBMISSION)
    seen = await walk.read(usa)
    assert [s["resettlement_country"] for s in seen["submissions"]] == [HOME_STATE]
    assert seen["submissions"][0]["status"] == "pending"
    assert seen["protection_summary"] == SUMMARY
    assert seen["previously_submitted_elsewhere"] is True
    seen = await walk.read(can)
    assert [(s["resettlement_country"], s["status"]) for s in seen["submissions"]] == [
        (OTHER_STATE, "denied")
    ]
    assert seen["protection_summary"] is None
    assert seen["previously_submitted_elsewhere"] is False, "USA came after CAN"

    # PAN refuses the stay (the case leaves PAN's scope), CRI authorises and records entry.
    await walk.act(worker, "request_transit", transit_country=OTHER_TRANSIT)
    await walk.read(pan)
    await walk.act(pan, "refuse_transit", expect=204, reason="No capacity this month.")
    assert (await client.get(walk.path, headers=pan.headers)).status_code == 404
    await walk.act(worker, "request_transit", transit_country=HOME_TRANSIT)
    await walk.act(cri, "authorise_transit", note="Cleared at the border post.")
    await walk.act(cri, "record_transit_entry", entered_at=days(0))
    seen = await walk.read(cri)
    assert [(s["transit_country"], s["status"]) for s in seen["transit_stays"]] == [
        (HOME_TRANSIT, "in_transit")
    ]
    assert seen["submissions"] == [
        {
            "resettlement_country": HOME_STATE,
            "status": "pending",
            "accepted_members": None,
            "split": False,
        }
    ]
    seen = await walk.read(usa)
    assert [(s["transit_country"], s["status"]) for s in seen["transit_stays"]] == [
        (OTHER_TRANSIT, "refused"),
        (HOME_TRANSIT, "in_transit"),
    ]

    # Filters cannot probe outside the caller's view.
    assert await walk.listed(usa, resettlement_country=OTHER_STATE) == []
    assert [c["id"] for c in await walk.listed(usa, resettlement_country=HOME_STATE)] == [
        walk.case["id"]
    ]
    assert await walk.listed(can, resettlement_country=HOME_STATE) == []
    assert await walk.listed(cri, transit_country=OTHER_TRANSIT) == []
    assert await walk.listed(cri, resettlement_country=OTHER_STATE) == []
    assert [c["id"] for c in await walk.listed(cri, resettlement_country=HOME_STATE)] == [
        walk.case["id"]
    ]
    assert [c["id"] for c in await walk.listed(cri, transit_country=HOME_TRANSIT)] == [
        walk.case["id"]
    ]
    assert await walk.listed(pan) == []
    assert await walk.listed(pan, transit_country=OTHER_TRANSIT) == []

    # Accepted, departed from CRI and arrived.
    accepted = await walk.act(usa, "decide", decision="accepted", reason="Welcome.")
    assert accepted["protection_summary"] == SUMMARY
    await walk.act(cri, "record_departure", departed_at=days(0))
    await walk.act(usa, "confirm_arrival", arrived_at=days(0))

    # The final case, one page of the list and the history, as each role gets them.
    for user in (worker, boss, usa, can, cri):
        seen = await walk.read(user)
        assert seen["status"] == "resettled"
        assert [c["id"] for c in await walk.listed(user)] == [walk.case["id"]]
        assert [c == seen for c in await walk.listed(user)] == [True], "list item ≠ one case"
    for outsider in (pan, people.manager, people.admin):
        for path in (walk.path, f"{walk.path}/events"):
            response = await client.get(path, headers=outsider.headers)
            assert response.status_code == 404, (outsider.role, path)
            assert "reference" not in response.text
    for outsider in (people.manager, people.admin):
        assert (await client.get("/api/v1/cases", headers=outsider.headers)).status_code == 403

    readers = {"unhcr": worker, "home_state": usa, "other_state": can, "home_transit": cri}
    for name, reader in readers.items():
        events = await walk.events(reader)
        got = [(e["action"], sorted(e["payload"])) for e in events]
        assert got == EVENTS[name], name
        countries = {e["payload"].get("resettlement_country") for e in events} - {None}
        if reader is usa:
            assert countries == {HOME_STATE}
        if reader is cri:
            assert countries == set()
            stays = {e["payload"].get("transit_country") for e in events} - {None}
            assert stays == {HOME_TRANSIT}
    assert (await walk.events(boss)) == (await walk.events(worker))
    for reader in (usa, can, cri):
        update = next(e for e in await walk.events(reader) if e["action"] == "update")
        assert update["payload"]["changed"] == [], "referral_source is not in an officer's view"
    update = next(e for e in await walk.events(worker) if e["action"] == "update")
    assert update["payload"]["changed"] == ["referral_source"]
    own = [e["payload"] for e in await walk.events(cri) if e["action"] == "authorise_transit"]
    assert own == [{"note": "Cleared at the border post."}], "a transit officer's own note"


async def test_protection_summary_follows_the_officers_submission(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Seen while the state's submission is pending, on hold or accepted; never after it is
    denied or withdrawn; never by a transit officer."""
    people = await make_cast(make)
    builder = Builder(client, make, people)
    usa, boss = people.usa, people.boss
    case = await builder.submitted(HOME_STATE, protection_summary=SUMMARY)
    path = f"/api/v1/cases/{case['id']}"

    async def summary() -> Any:
        response = await client.get(path, headers=usa.headers)
        assert response.status_code == 200
        return response.json()["protection_summary"]

    assert await summary() == SUMMARY
    case = await make.act(usa, case, "decide", decision="on_hold", reason="Need documents.")
    assert await summary() == SUMMARY
    case = await make.act(usa, case, "decide", decision="accepted")
    assert await summary() == SUMMARY

    withdrawn = await builder.submitted(HOME_STATE, protection_summary=SUMMARY)
    await make.act(boss, withdrawn, "withdraw_submission", reason="applicant_request")
    response = await client.get(f"/api/v1/cases/{withdrawn['id']}", headers=usa.headers)
    assert response.status_code == 200 and response.json()["protection_summary"] is None

    in_transit = await builder.in_transit()
    response = await client.get(f"/api/v1/cases/{in_transit['id']}", headers=people.cri.headers)
    assert response.status_code == 200
    assert "protection_summary" not in response.json()
    assert SUMMARY not in response.text


async def test_transit_officer_sees_only_the_live_submission(
    client: httpx.AsyncClient, make: Factory
) -> None:
    people = await make_cast(make)
    builder = Builder(client, make, people)
    cri = people.cri
    case = await builder.in_transit()
    path = f"/api/v1/cases/{case['id']}"
    case = await make.act(people.usa, case, "decide", decision="denied", reason="x")
    response = await client.get(path, headers=cri.headers)
    assert response.json()["submissions"] == [], "a denied submission is not live"
    case = await builder.fresh(case)
    case = await make.act(
        people.boss, case, "resubmit", resettlement_country=OTHER_STATE, **SUBMISSION
    )
    response = await client.get(path, headers=cri.headers)
    assert response.json()["submissions"] == [
        {
            "resettlement_country": OTHER_STATE,
            "status": "pending",
            "accepted_members": None,
            "split": False,
        }
    ]


async def test_an_invisible_case_answers_exactly_like_a_missing_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Same status, headers that matter and body (apart from instance and detail) on every
    case endpoint, for every role that cannot see the case."""
    people = await make_cast(make)
    builder = Builder(client, make, people)
    case = await builder.submitted(OTHER_STATE)  # invisible to USA, CRI, PAN, managers, admins
    missing = str(uuid.uuid4())

    async def answers(user: TestUser, case_id: str) -> list[httpx.Response]:
        path = f"/api/v1/cases/{case_id}"
        headers = {**user.headers, "If-Match": f'"{case["version"]}"'}
        return [
            await client.get(path, headers=user.headers),
            await client.get(f"{path}/events", headers=user.headers),
            await client.patch(path, json={"processing_priority": "normal"}, headers=headers),
            await client.post(
                f"{path}/transitions",
                json={"action": "decide", "decision": "accepted"},
                headers=headers,
            ),
            await client.post(
                f"{path}/transitions",
                json={"action": "authorise_transit"},
                headers=headers,
            ),
        ]

    for user in (people.usa, people.cri, people.pan):
        for hidden, absent in zip(
            await answers(user, case["id"]), await answers(user, missing), strict=True
        ):
            assert hidden.status_code == absent.status_code == 404, hidden.request.url
            assert hidden.headers["content-type"] == absent.headers["content-type"]
            assert "etag" not in hidden.headers
            assert without(hidden.json(), "instance", "detail") == without(
                absent.json(), "instance", "detail"
            )
            assert hidden.json()["detail"] == absent.json()["detail"]
            assert case["reference"] not in hidden.text
    for user in (people.manager, people.admin):
        for hidden, absent in zip(
            await answers(user, case["id"]), await answers(user, missing), strict=True
        ):
            assert hidden.status_code == absent.status_code, hidden.request.url
            assert without(hidden.json(), "instance") == without(absent.json(), "instance")
