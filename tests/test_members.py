"""Members keep their identity (domain.md): every member has an id shown in every view, a
PATCH of the list updates, adds and removes by id, the set of members is fixed while a
submission is live or after departure, and people are counted per member in the funnel."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SqlaDb
from app.schemas.cases import CaseUpdate
from app.services import cases
from tests.factories import Factory, case_body, member
from tests.lifecycle_helpers import (
    ACCEPT,
    API,
    DEPART,
    IN_TRANSIT,
    REVIEW,
    SUBMIT_USA,
    WITHDRAW,
    Driver,
    make_cast,
    problem,
)
from tests.timeline import Timeline, actor, moment


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def editable(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The members as a PATCH sends them back (ids included)."""
    return [dict(m) for m in case["members"]]


async def refused(
    drive: Driver, case: dict[str, Any], response: httpx.Response, status: int, code: str
) -> dict[str, Any]:
    body = problem(response, status, code)
    assert await drive.get(case["id"]) == case
    assert len(await drive.events(case["id"])) == case["version"]
    return body


async def test_every_view_shows_member_ids(drive: Driver) -> None:
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    assert len(ids) == 2 and all(uuid.UUID(i).version == 7 for i in ids)
    for viewer in (drive.cast.worker, drive.cast.boss, drive.cast.usa, drive.cast.cri):
        seen = await drive.get(case["id"], by=viewer)
        assert [m["id"] for m in seen["members"]] == ids, viewer.role
        listed = await drive.client.get(f"{API}/cases", headers=viewer.headers)
        assert [m["id"] for m in listed.json()["items"][0]["members"]] == ids


async def test_a_client_cannot_choose_a_new_members_id(drive: Driver) -> None:
    body = case_body(members=[{**member(), "id": str(uuid.uuid4())}])
    response = await drive.client.post(f"{API}/cases", json=body, headers=drive.cast.worker.headers)
    problem(response, 422, "validation_error")


async def test_patch_updates_adds_and_removes_by_id(drive: Driver) -> None:
    case = await drive.run(await drive.new_case(), REVIEW)
    principal, child = case["members"]
    members = [
        {**principal, "given_name": "Ana Maria"},  # corrected
        member(is_principal=False, given_name="Nueva", relationship="sister"),  # added
    ]  # the child is left out: removed
    response = await drive.patch(drive.cast.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    after = response.json()
    kept, added = after["members"]
    assert kept["id"] == principal["id"] and kept["given_name"] == "Ana Maria"
    assert added["id"] not in (principal["id"], child["id"]) and uuid.UUID(added["id"])
    assert added["given_name"] == "Nueva"
    assert [m["id"] for m in (await drive.get(case["id"]))["members"]] == [
        principal["id"],
        added["id"],
    ]
    # Reordering keeps every id.
    response = await drive.patch(
        drive.cast.worker, case["id"], after["version"], members=[added, kept]
    )
    assert [m["id"] for m in response.json()["members"]] == [added["id"], kept["id"]]


async def test_patch_member_ids_are_judged_after_if_match_and_before_409(drive: Driver) -> None:
    case = await drive.run(await drive.new_case(), SUBMIT_USA)  # the set of members is fixed
    members = editable(case)
    stranger = [*members[:1], {**members[1], "id": str(uuid.uuid4())}]
    c = drive.cast
    # Stale If-Match wins over an unknown id; an unknown id (422) over the fixed set (409).
    response = await drive.patch(c.worker, case["id"], case["version"] - 1, members=stranger)
    await refused(drive, case, response, 412, "precondition_failed")
    response = await drive.patch(c.worker, case["id"], case["version"], members=stranger)
    body = await refused(drive, case, response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "members", 1]
    # An id of another case's member is not a current member of this one.
    other = await drive.new_case()
    foreign = [*members[:1], {**other["members"][1]}]
    response = await drive.patch(c.worker, case["id"], case["version"], members=foreign)
    await refused(drive, case, response, 422, "validation_error")
    # The same id twice: 422 on the request alone.
    twice = [members[0], {**members[1], "id": members[0]["id"]}]
    response = await drive.patch(c.worker, case["id"], case["version"], members=twice)
    await refused(drive, case, response, 422, "validation_error")


@pytest.mark.parametrize("situation", ["live submission", "departed", "resettled"])
async def test_the_set_of_members_is_fixed(drive: Driver, situation: str) -> None:
    steps = {
        "live submission": [*IN_TRANSIT, ACCEPT],
        "departed": [*IN_TRANSIT, ACCEPT, DEPART],
        "resettled": [
            *IN_TRANSIT,
            ACCEPT,
            DEPART,
            ("usa", "confirm_arrival", {"arrived_at": "<today>"}),
        ],
    }[situation]
    case = await drive.run(await drive.new_case(), steps)
    members = editable(case)
    c = drive.cast
    for changed in (members[:1], [*members, member(is_principal=False, relationship="aunt")]):
        response = await drive.patch(c.worker, case["id"], case["version"], members=changed)
        await refused(drive, case, response, 409, "conflict")
    # Correcting the fields of current members is allowed.
    corrected = [members[0], {**members[1], "document_number": "B-77"}]
    response = await drive.patch(c.worker, case["id"], case["version"], members=corrected)
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["members"]] == [m["id"] for m in members]
    assert response.json()["members"][1]["document_number"] == "B-77"


async def test_after_withdrawal_the_household_may_change(drive: Driver) -> None:
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, WITHDRAW])
    members = [*editable(case), member(is_principal=False, relationship="grandmother")]
    response = await drive.patch(drive.cast.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    assert len(response.json()["members"]) == 3


async def funnel(client: httpx.AsyncClient, user: Any, start: str, end: str) -> dict[str, int]:
    response = await client.get(
        f"{API}/reports/funnel", params={"from": start, "to": end}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return {s["stage"]: s["people"] for s in response.json()["stages"]}


async def test_people_follow_each_members_milestones(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    """Three members identified in 2018; one removed in 2019 (counted nowhere); one added in
    2019 (identified then, submitted with the case's first submission after it joined);
    one added after that submission (identified only: the case was first submitted before)."""
    worker, boss = await make.user("caseworker"), await make.user("supervisor")
    t = Timeline(engine, worker, boss)
    case_id = await t.create("2018-03-01", 3)

    async def patch(day: str, change: Any) -> None:
        async with engine.begin() as conn:
            db = SqlaDb(conn)
            record = await cases.read_case(db, actor(worker), case_id, moment(day))
            rows = [
                {
                    "id": str(m["id"]),
                    "is_principal": m["is_principal"],
                    "given_name": m["given_name"],
                    "family_name": m["family_name"],
                    "sex": m["sex"],
                    "date_of_birth": m["date_of_birth"].isoformat(),
                    "nationality": m["nationality"],
                    "relationship": m["relationship"],
                }
                for m in record.members
            ]
            await cases.update_case(
                db,
                actor(worker),
                case_id,
                CaseUpdate.model_validate({"members": change(rows)}),
                f'"{record.case["version"]}"',
                moment(day),
            )

    newcomer = member(is_principal=False, given_name="Tia", relationship="aunt")
    await patch("2019-02-01", lambda rows: [*rows[:2], newcomer])  # one out, one in
    await t.to_review(case_id, "2019-03-01")
    await t.submit(case_id, "2019-04-01", "USA")
    await t.act(boss, case_id, "withdraw_submission", "2019-05-01", reason="error")
    await patch("2019-06-01", lambda rows: [*rows, newcomer])
    manager = await make.user("manager")
    assert await funnel(client, manager, "2018-01-01", "2018-12-31") == {
        "identified": 2,  # the removed member is counted nowhere
        "submitted": 0,
        "in_transit": 0,
        "resettled": 0,
    }
    assert await funnel(client, manager, "2019-01-01", "2019-12-31") == {
        "identified": 2,  # the two newcomers, on the days they joined
        "submitted": 3,  # the members present at the first submission
        "in_transit": 0,
        "resettled": 0,
    }
    cohort = await client.get(
        f"{API}/reports/funnel",
        params={"from": "2019-01-01", "to": "2019-12-31", "basis": "cohort"},
        headers=manager.headers,
    )
    stages = {s["stage"]: (s["cases"], s["people"]) for s in cohort.json()["stages"]}
    # No case was identified in 2019; its two members joining then were, one submitted.
    assert stages["identified"] == (0, 2) and stages["submitted"] == (0, 1)
