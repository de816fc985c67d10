"""Possible duplicates (GET /cases/{id}/possible-duplicates; domain.md "Search and possible
duplicates") over HTTP, on SQLite and PostgreSQL: each of the three reasons found, one item per
pair with the strongest reason, people with similar names but not within the rules left out,
closed and resettled cases included, the case itself never — for caseworkers and supervisors
only, in step with the members after every PATCH and split, and written to the access log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.common import assert_problem, make_cast
from tests.factories import Factory, TestUser, member
from tests.lifecycle_helpers import ACCEPT, CLOSE, DEPART, IN_TRANSIT, Driver, ScenarioStep

API = "/api/v1"
#: Resettled without a departure checklist (the tests' default PTA_DEPARTURE_REQUIREMENTS).
RESETTLED: list[ScenarioStep] = [
    *IN_TRANSIT,
    ACCEPT,
    DEPART,
    ("usa", "confirm_arrival", {"arrived_at": "<today>"}),
]


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def person(given: str, family: str, born: str, document: str | None = None, **extra: Any) -> Any:
    return member(
        given_name=given, family_name=family, date_of_birth=born, document_number=document, **extra
    )


def other(given: str, family: str, born: str, document: str | None = None) -> Any:
    return person(given, family, born, document, is_principal=False, relationship="sibling")


async def duplicates(
    client: httpx.AsyncClient, user: TestUser, case: dict[str, Any], expect: int = 200
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{API}/cases/{case['id']}/possible-duplicates", headers=user.headers
    )
    if expect != 200:
        assert_problem(response, expect)
        return []
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"items"}
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def pairs(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(this case's member, the other member, reason) of each item."""
    return [(i["member_id"], i["other_member_id"], i["reason"]) for i in items]


async def test_each_reason_strongest_first_and_nothing_beyond_the_rules(drive: Driver) -> None:
    c = drive.cast
    registered = await drive.new_case(
        members=[
            person("María José", "Hernández López", "1980-05-06", "DUI 01234567-8"),
            other("Kevin Josué", "Portillo de la Cruz", "2009-03-10"),
            other("Ana", "Ayala", "1990-01-01", "P-555"),
        ],
    )
    registered = await drive.run(registered, RESETTLED)
    assert registered["status"] == "resettled"
    closed = await drive.new_case(members=[person("Wilfredo", "Argueta", "1975-12-24")])
    closed = await drive.run(closed, [CLOSE])
    new = await drive.new_case(
        members=[
            # the same document number written differently, another name: document_number
            person("M. J.", "Hernández", "1981-01-01", "dui-012345678"),
            # the same names ignoring accents, spacing and particles, the same day: name+dob
            other("Maria Jose", "Hernandez-Lopez", "1980-05-06"),
            # one letter changed, the same year: similar_name_and_birth_year
            other("Kevin Josue", "Portilo de la Cruz", "2009-11-30"),
            # two neighbours swapped, the same year (in a closed case)
            other("Wilfredo", "Argeuta", "1975-01-31"),
            # the same document as Ana and the same names and day: one item, document_number
            other("Ana", "Ayala", "1990-01-01", "p555"),
            # near but not within the rules: another year; two slips; a longer given name
            other("María José", "Hernández López", "1981-05-06"),
            other("Mario José", "Hernández Lópes", "1980-05-06"),
            other("María Josefa", "Hernández López", "1980-05-06"),
            other("Kevin", "Portillo de la Cruz", "2009-03-10"),
        ]
    )
    mine = [m["id"] for m in new["members"]]
    theirs = [m["id"] for m in registered["members"]]
    items = await duplicates(drive.client, c.worker, new)
    assert pairs(items) == [
        (mine[0], theirs[0], "document_number"),
        (mine[1], theirs[0], "name_and_date_of_birth"),
        (mine[2], theirs[1], "similar_name_and_birth_year"),
        (mine[3], closed["members"][0]["id"], "similar_name_and_birth_year"),
        (mine[4], theirs[2], "document_number"),
    ]
    assert items[0] == {
        "case_id": registered["id"],
        "reference": registered["reference"],
        "member_id": mine[0],
        "other_member_id": theirs[0],
        "reason": "document_number",
    }
    assert items[3]["case_id"] == closed["id"]
    # and from the other side: the registered household has the new case as its duplicate
    back = await duplicates(drive.client, c.boss, registered)
    assert {(i["case_id"], i["member_id"], i["reason"]) for i in back} == {
        (new["id"], theirs[0], "document_number"),
        (new["id"], theirs[0], "name_and_date_of_birth"),
        (new["id"], theirs[1], "similar_name_and_birth_year"),
        (new["id"], theirs[2], "document_number"),
    }


async def test_the_case_itself_never_and_one_item_per_pair(drive: Driver) -> None:
    c = drive.cast
    twins = [
        person("Ana", "Ayala", "1990-01-01", "P-1"),
        other("Ana", "Ayala", "1990-01-01", "P-1"),
    ]
    alone = await drive.new_case(members=twins)
    assert await duplicates(drive.client, c.worker, alone) == []
    again = await drive.new_case(members=[person("Ana", "Ayala", "1990-01-01", "P 1")])
    items = await duplicates(drive.client, c.worker, again)
    assert pairs(items) == [
        (again["members"][0]["id"], alone["members"][0]["id"], "document_number"),
        (again["members"][0]["id"], alone["members"][1]["id"], "document_number"),
    ]


async def test_only_caseworkers_and_supervisors_ask(drive: Driver, make: Factory) -> None:
    """Any other role: 404 where it cannot see the case, else 403 (domain.md)."""
    c = drive.cast
    submitted = await drive.build(
        "in_transit/pending", members=[person("Ana", "Ayala", "1990-01-01")]
    )
    await drive.new_case(members=[person("Ana", "Ayala", "1990-01-01")])
    for user in (c.worker, c.boss):
        assert len(await duplicates(drive.client, user, submitted)) == 1
    for user in (c.usa, c.cri):  # they see the case
        await duplicates(drive.client, user, submitted, expect=403)
    for user in (c.can, c.pan, c.manager, c.admin):
        await duplicates(drive.client, user, submitted, expect=404)
    await duplicates(drive.client, c.worker, {"id": "01a23c52-413a-75a6-adad-7a6bfa158a50"}, 404)


async def test_duplicates_follow_the_members_after_patch_and_split(drive: Driver) -> None:
    c = drive.cast
    kept = await drive.new_case(
        members=[person("Rosa", "Menjívar", "1970-02-02"), other("Luis", "Amaya", "2001-04-04")]
    )
    case = await drive.new_case(
        members=[person("Jorge", "Ramos", "1968-08-08"), other("Rosa", "Menjivar", "1970-02-02")]
    )
    assert [i["reason"] for i in await duplicates(drive.client, c.worker, case)] == [
        "name_and_date_of_birth"
    ]
    members = [{**m} for m in case["members"]]
    members[1]["date_of_birth"] = "1971-02-02"  # corrected: now someone else
    members.append(other("Luis", "Amaya", "2001-09-04", "DUI-1"))
    response = await drive.patch(c.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    case = response.json()
    ids = [m["id"] for m in case["members"]]
    assert pairs(await duplicates(drive.client, c.worker, case)) == [
        (ids[2], kept["members"][1]["id"], "similar_name_and_birth_year")
    ]

    case = await drive.run(case, IN_TRANSIT)
    await drive.act(c.usa, case, "decide", decision="accepted", accepted_members=ids[:2])
    case = await drive.get(case["id"])
    response = await drive.post(
        c.boss,
        case["id"],
        "split_case",
        case["version"],
        members=[ids[2]],
        principal=ids[2],
        reason="The state accepted the parents",
    )
    assert response.status_code == 200, response.text
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    assert await duplicates(drive.client, c.worker, case) == []
    (item,) = await duplicates(drive.client, c.worker, kept)
    assert (item["case_id"], item["other_member_id"]) == (new_id, ids[2])


async def test_asking_is_written_to_the_access_log(drive: Driver) -> None:
    c = drive.cast
    first = await drive.new_case(members=[person("Ana", "Ayala", "1990-01-01")])
    second = await drive.new_case(members=[person("Ana", "Ayala", "1990-01-01")])
    await drive.new_case()
    await duplicates(drive.client, c.worker, second)
    response = await drive.client.get(
        f"{API}/audit/access-log", params={"user_id": str(c.worker.id)}, headers=c.boss.headers
    )
    (entry,) = response.json()["items"]
    assert (entry["action"], entry["case_ids"]) == ("list", sorted([second["id"], first["id"]]))
    assert entry["filters"] == {"possible_duplicates_of": second["id"]}
