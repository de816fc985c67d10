"""Departure arrangements (domain.md): the checklist each acceptance starts, who may update
which item (a literal role × item table over HTTP), the item's consistency rules, ``overdue``
and the ``requirements_overdue`` filter, ``record_departure`` naming the open items, the views
and events as each officer sees them — and the whole way from a request for information to
resettlement. Runs on the service with the default PTA_DEPARTURE_REQUIREMENTS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Factory, TestUser, member
from tests.lifecycle_helpers import (
    ACCEPT,
    ANSWER,
    ASK,
    AUTHORISE_CRI,
    CLEAR,
    ENTER_CRI,
    IN_TRANSIT,
    REQUEST_CRI,
    REVIEW,
    SUBMIT_USA,
    Driver,
    days,
    make_cast,
    problem,
    submission,
)

API = "/api/v1"
ITEMS = (
    "medical_clearance",
    "security_clearance",
    "exit_permit",
    "travel_document",
    "cultural_orientation",
    "travel_booked",
)


@pytest.fixture
async def drive(checklist_client: httpx.AsyncClient, engine: Any) -> Driver:
    make = Factory(checklist_client, engine, __import__("tests.conftest").conftest.SECRET)
    return Driver(checklist_client, make, await make_cast(make))


async def _accepted(drive: Driver) -> dict[str, Any]:
    """Accepted by USA and in transit in CRI; CAN saw an earlier submission and PAN an
    earlier stay (both officers see the case, neither sees its checklist)."""
    c = drive.cast
    case = await drive.new_case()
    steps = [
        *REVIEW,
        ("boss", "submit", submission("CAN")),
        ("worker", "request_transit", {"transit_country": "PAN"}),
        ("pan", "authorise_transit", {}),
        ("boss", "close", {"reason": "other", "note": "moved"}),
        ("boss", "reopen", {"reason": "back"}),
        ("boss", "resubmit", submission("USA")),
        REQUEST_CRI,
        AUTHORISE_CRI,
        ENTER_CRI,
        ACCEPT,
    ]
    case = await drive.run(case, steps)
    assert c.can and case["status"] == "in_transit"
    return case


def _items(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["item"]: row for row in case["departure_requirements"]}


async def test_an_acceptance_starts_the_default_checklist(drive: Driver) -> None:
    case = await _accepted(drive)
    assert [row["item"] for row in case["departure_requirements"]] == list(ITEMS)
    for row in case["departure_requirements"]:
        assert row == {
            "item": row["item"],
            "status": "pending",
            "due_on": None,
            "done_on": None,
            "overdue": False,
            "note": None,
        }
    before = await drive.run(await drive.new_case(), SUBMIT_USA)
    assert before["departure_requirements"] == []


# fmt: off
# update_requirement on the case of _accepted(), domain.md "Departure arrangements".
# Columns: the six items in the order of ITEMS.
ROLE_ITEM_TABLE = {
    "worker":  "200 200 200 200 200 200",  # caseworker
    "boss":    "200 200 200 200 200 200",  # supervisor
    "usa":     "200 200 403 200 403 200",  # the accepting state's resettlement officer
    "can":     "403 403 403 403 403 403",  # another state's officer (it sees the case)
    "cri":     "403 403 200 403 403 403",  # the transit officer of the active stay
    "pan":     "403 403 403 403 403 403",  # another country's transit officer (sees it)
    "manager": "404 404 404 404 404 404",
    "admin":   "404 404 404 404 404 404",
}
# fmt: on


async def test_who_may_update_which_item(drive: Driver) -> None:
    case = await _accepted(drive)
    users: dict[str, TestUser] = {
        name: getattr(drive.cast, name) for name in ("worker", "boss", "usa", "can", "cri", "pan")
    }
    users["manager"] = await drive.make.user("manager")
    users["admin"] = await drive.make.user("admin")
    version, changes, failures = case["version"], 0, []
    for name, row in ROLE_ITEM_TABLE.items():
        for item, expected in zip(ITEMS, row.split(), strict=True):
            response = await drive.post(
                users[name],
                case["id"],
                "update_requirement",
                version,
                item=item,
                due_on=days(10 + changes),
            )
            if str(response.status_code) != expected:
                failures.append(f"{name} {item}: {response.status_code}, table {expected}")
            elif response.status_code == 200:
                version, changes = version + 1, changes + 1
    assert not failures, "\n".join(failures)
    after = await drive.get(case["id"])
    assert after["version"] == case["version"] + changes
    events = [e for e in await drive.events(case["id"]) if e["action"] == "update_requirement"]
    assert len(events) == changes


async def test_the_item_must_be_consistent(drive: Driver) -> None:
    c = drive.cast
    case = await _accepted(drive)
    events = len(await drive.events(case["id"]))
    cid, v = case["id"], case["version"]

    async def refused(answer: int, code: str, **fields: Any) -> None:
        response = await drive.post(c.worker, cid, "update_requirement", v, **fields)
        problem(response, answer, code)

    await refused(422, "validation_error", item="medical_clearance", status="done")
    await refused(422, "validation_error", item="medical_clearance", status="done", done_on=days(1))
    await refused(422, "validation_error", item="exit_permit", status="waived")
    await refused(422, "validation_error", item="exit_permit", done_on=days(0))
    await refused(422, "validation_error", item="visa", status="done", done_on=days(0))
    await refused(422, "validation_error", item="exit_permit")
    await refused(422, "validation_error", item="exit_permit", status=None)
    await refused(422, "validation_error", item="exit_permit", note=None)
    await refused(422, "validation_error", item="exit_permit", due_on="2026-13-01")
    assert await drive.get(cid) == case
    assert len(await drive.events(cid)) == events

    done = await drive.act(
        c.worker,
        case,
        "update_requirement",
        item="medical_clearance",
        status="done",
        done_on=days(-2),
    )
    assert _items(done)["medical_clearance"]["done_on"] == days(-2)
    # waived needs a note: one recorded earlier counts
    noted = await drive.act(
        c.worker,
        done,
        "update_requirement",
        item="exit_permit",
        note="The permit is not needed for minors",
    )
    waived = await drive.act(
        c.worker, noted, "update_requirement", item="exit_permit", status="waived"
    )
    assert _items(waived)["exit_permit"]["status"] == "waived"
    # done with the done_on already recorded; back to pending clears it
    redone = await drive.act(
        c.worker,
        waived,
        "update_requirement",
        item="travel_document",
        status="done",
        done_on=days(0),
    )
    back = await drive.act(
        c.worker, redone, "update_requirement", item="travel_document", status="pending"
    )
    assert _items(back)["travel_document"]["done_on"] is None
    again = await drive.act(
        c.worker, back, "update_requirement", item="medical_clearance", status="pending"
    )
    pending_done = await drive.post(
        c.worker,
        cid,
        "update_requirement",
        again["version"],
        item="medical_clearance",
        status="done",
    )
    problem(pending_done, 422, "validation_error")


async def test_no_checklist_until_accepted_and_none_when_not_configured(
    drive: Driver, client: httpx.AsyncClient, make: Factory
) -> None:
    c = drive.cast
    pending = await drive.run(await drive.new_case(), SUBMIT_USA)
    response = await drive.post(
        c.worker,
        pending["id"],
        "update_requirement",
        pending["version"],
        item="exit_permit",
        due_on=days(3),
    )
    problem(response, 409, "invalid_transition")

    # The service in the rest of the suite runs with PTA_DEPARTURE_REQUIREMENTS empty.
    plain = Driver(client, make, c)
    accepted = await plain.run(await drive.new_case(), [*SUBMIT_USA, ACCEPT])
    assert accepted["departure_requirements"] == []
    unknown = await plain.post(
        c.worker,
        accepted["id"],
        "update_requirement",
        accepted["version"],
        item="exit_permit",
        due_on=days(3),
    )
    problem(unknown, 422, "validation_error")
    # judged on the request alone: before the case is looked up
    missing = await plain.post(
        c.worker,
        "01900000-0000-7000-8000-000000000000",
        "update_requirement",
        1,
        item="exit_permit",
        due_on=days(3),
    )
    problem(missing, 422, "validation_error")


async def test_departure_waits_for_every_item(drive: Driver) -> None:
    c = drive.cast
    case = await _accepted(drive)
    for item in ITEMS[:4]:
        case = await drive.act(
            c.worker, case, "update_requirement", item=item, status="done", done_on=days(0)
        )
    refused = await drive.post(
        c.cri, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    detail = problem(refused, 409, "conflict")["detail"]
    assert "cultural_orientation" in detail and "travel_booked" in detail
    assert "medical_clearance" not in detail
    assert await drive.get(case["id"]) == case


async def test_overdue_and_the_list_filter(drive: Driver) -> None:
    c = drive.cast
    late = await _accepted(drive)
    late = await drive.act(c.usa, late, "update_requirement", item="travel_booked", due_on=days(-1))
    late = await drive.act(
        c.usa, late, "update_requirement", item="medical_clearance", due_on=days(0)
    )  # due today: not overdue yet
    on_time = await _accepted(drive)
    on_time = await drive.act(
        c.worker,
        on_time,
        "update_requirement",
        item="exit_permit",
        due_on=days(-3),
        status="done",
        done_on=days(-4),
    )
    assert {r["item"]: r["overdue"] for r in late["departure_requirements"]} == {
        item: item == "travel_booked" for item in ITEMS
    }
    assert not any(r["overdue"] for r in on_time["departure_requirements"])

    async def listed(user: TestUser, **params: Any) -> list[str]:
        response = await drive.client.get(f"{API}/cases", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    overdue = {"requirements_overdue": "true"}
    assert await listed(c.worker, **overdue) == [late["id"]]
    assert await listed(c.usa, **overdue) == [late["id"]]
    assert await listed(c.cri, **overdue) == [late["id"]]
    assert await listed(c.can, **overdue) == []  # it sees the case, not its checklist
    assert await listed(c.pan, **overdue) == []
    assert set(await listed(c.can)) == {late["id"], on_time["id"]}
    # PAN's stay of the late case ended, so PAN does not see its checklist — not even while
    # another case has an active stay in PAN (the rule looks at this case's stays only)
    await drive.run(
        await drive.new_case(),
        [
            *REVIEW,
            ("boss", "submit", submission("CAN")),
            ("worker", "request_transit", {"transit_country": "PAN"}),
        ],
    )
    assert await listed(c.pan, **overdue) == []
    for wrong in ("false", "yes", ""):
        response = await drive.client.get(
            f"{API}/cases", params={"requirements_overdue": wrong}, headers=c.worker.headers
        )
        problem(response, 422, "validation_error")

    done = await drive.act(
        c.usa, late, "update_requirement", item="travel_booked", status="done", done_on=days(0)
    )
    assert not any(r["overdue"] for r in done["departure_requirements"])
    assert await listed(c.worker, **overdue) == []
    # a closed case's checklist is no longer current (its submission was withdrawn)
    late2 = await drive.act(
        c.worker, done, "update_requirement", item="exit_permit", due_on=days(-5)
    )
    assert await listed(c.worker, **overdue) == [late["id"]]
    closed = await drive.act(c.boss, late2, "close", reason="lost_contact")
    assert closed["departure_requirements"] == []
    assert await listed(c.worker, **overdue) == []


async def test_views_and_events_as_each_officer_sees_them(drive: Driver) -> None:
    c = drive.cast
    case = await _accepted(drive)
    notes = {
        "medical_clearance": (c.usa, "IOM clinic booked"),
        "exit_permit": (c.cri, "Migración appointment"),
        "cultural_orientation": (c.worker, "Session in San José"),
    }
    for item, (user, note) in notes.items():
        case = await drive.act(user, case, "update_requirement", item=item, note=note)

    def shown(body: dict[str, Any]) -> dict[str, str | None]:
        return {row["item"]: row["note"] for row in body["departure_requirements"]}

    every = {item: notes.get(item, (None, None))[1] for item in ITEMS}
    assert shown(await drive.get(case["id"], c.worker)) == every
    assert shown(await drive.get(case["id"], c.usa)) == {
        item: "IOM clinic booked" if item == "medical_clearance" else None for item in ITEMS
    }
    assert shown(await drive.get(case["id"], c.cri)) == {
        item: "Migración appointment" if item == "exit_permit" else None for item in ITEMS
    }
    assert (await drive.get(case["id"], c.can))["departure_requirements"] == []
    assert (await drive.get(case["id"], c.pan))["departure_requirements"] == []

    def payloads(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["payload"] for e in events if e["action"] == "update_requirement"]

    unhcr = payloads(await drive.events(case["id"]))
    assert unhcr == [{"item": item, "note": note} for item, (_, note) in notes.items()]
    assert payloads(await drive.events(case["id"], c.usa)) == [
        {"item": "medical_clearance", "note": "IOM clinic booked"},
        {"item": "exit_permit"},
        {"item": "cultural_orientation"},
    ]
    assert payloads(await drive.events(case["id"], c.cri)) == [
        {"item": "medical_clearance"},
        {"item": "exit_permit", "note": "Migración appointment"},
        {"item": "cultural_orientation"},
    ]
    assert payloads(await drive.events(case["id"], c.can)) == []
    assert payloads(await drive.events(case["id"], c.pan)) == []

    # the CSV export has no column for a list: the checklist stays out of it for everyone
    for user in (c.worker, c.usa, c.cri):
        export = await drive.client.get(f"{API}/cases/export", headers=user.headers)
        assert export.status_code == 200
        assert "departure_requirements" not in export.text.splitlines()[0]
        assert "IOM clinic" not in export.text


async def test_from_a_question_to_resettlement(drive: Driver) -> None:
    """submitted → information requested → information provided → accepted → the checklist
    completed by the roles allowed → departed → resettled, over HTTP."""
    c = drive.cast
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, ASK])
    assert case["submissions"][-1]["status"] == "information_requested"
    case = await drive.run(case, [ANSWER, REQUEST_CRI, AUTHORISE_CRI, ENTER_CRI, ACCEPT])
    assert case["submissions"][-1]["information_requests"][0]["answer"] == ANSWER[2]["note"]
    by = {
        "medical_clearance": c.usa,
        "security_clearance": c.usa,
        "exit_permit": c.cri,
        "travel_document": c.usa,
        "cultural_orientation": c.worker,
        "travel_booked": c.usa,
    }
    for item, user in by.items():
        if item == "cultural_orientation":
            case = await drive.act(
                user,
                case,
                "update_requirement",
                item=item,
                status="waived",
                note="Done online before the flight",
            )
        else:
            case = await drive.act(
                user, case, "update_requirement", item=item, status="done", done_on=days(0)
            )
    assert {r["status"] for r in (await drive.get(case["id"]))["departure_requirements"]} == {
        "done",
        "waived",
    }
    case = await drive.act(c.cri, case, "record_departure", departed_at=days(0))
    assert case["status"] == "departed"
    case = await drive.act(c.usa, case, "confirm_arrival", arrived_at=days(0))
    assert case["status"] == "resettled"
    final = await drive.get(case["id"])
    assert [r["item"] for r in final["departure_requirements"]] == list(ITEMS)
    assert (await drive.get(case["id"], c.cri))["departure_requirements"] == []


async def test_identified_to_resettled_through_a_question_and_a_split(drive: Driver) -> None:
    """The issue's whole way over HTTP: identified → information requested → accepted in
    part → split → cleared → departed → resettled, with the default checklist; the members
    left out wait in their own case, which the accepting state never sees."""
    c = drive.cast
    family = [
        member(given_name="Marta"),
        member(is_principal=False, given_name="Jorge", sex="male", relationship="spouse"),
        member(is_principal=False, given_name="Lucia", relationship="child"),
    ]
    case = await drive.run(await drive.new_case(members=family), [*IN_TRANSIT, ASK, ANSWER])
    assert case["submissions"][-1]["status"] == "pending"
    ids = [m["id"] for m in case["members"]]
    case = await drive.act(c.usa, case, "decide", decision="accepted", accepted_members=ids[:2])
    assert case["submissions"][-1]["split"] is True
    refused = await drive.post(
        c.cri, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    assert ids[2] in problem(refused, 409, "conflict")["detail"]
    split = await drive.post(
        c.boss,
        case["id"],
        "split_case",
        case["version"],
        members=[ids[2]],
        principal=ids[2],
        reason="The state accepted the parents",
    )
    assert split.status_code == 200, split.text
    case, new_id = split.json(), split.headers["Location"].rsplit("/", 1)[1]
    refused = await drive.post(
        c.cri, case["id"], "record_departure", case["version"], departed_at=days(0)
    )
    assert "medical_clearance" in problem(refused, 409, "conflict")["detail"]
    case = await drive.run(case, CLEAR)
    case = await drive.act(c.cri, case, "record_departure", departed_at=days(0))
    case = await drive.act(c.usa, case, "confirm_arrival", arrived_at=days(0))
    assert case["status"] == "resettled"
    assert [m["id"] for m in case["members"]] == ids[:2]
    new = await drive.get(new_id)
    assert new["status"] == "assessment" and [m["id"] for m in new["members"]] == [ids[2]]
    unseen = await drive.client.get(f"{API}/cases/{new_id}", headers=c.usa.headers)
    problem(unseen, 404, "not_found")
