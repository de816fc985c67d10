"""The access log (issue 4, part 4): every read of case data leaves a row written in the same
request, and GET /api/v1/audit/access-log shows them to supervisors and admins only, filtered
and newest first."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.access_helpers import HOME_STATE, OTHER_STATE, Builder, Json
from tests.common import make_cast
from tests.factories import Factory, TestUser

LOG = "/api/v1/audit/access-log"


async def log_page(
    client: httpx.AsyncClient, reader: TestUser, expect: int = 200, **params: Any
) -> Json:
    response = await client.get(LOG, params=params, headers=reader.headers)
    assert response.status_code == expect, response.text
    body: Json = response.json()
    return body


async def entries(client: httpx.AsyncClient, reader: TestUser, **params: Any) -> list[Json]:
    items: list[Json] = (await log_page(client, reader, limit=200, **params))["items"]
    return items


async def test_each_read_of_case_data_is_logged_in_the_same_request(
    client: httpx.AsyncClient, make: Factory
) -> None:
    people = await make_cast(make)
    builder = Builder(client, make, people)
    worker, usa = people.worker, people.usa
    first = await builder.submitted(HOME_STATE)
    second = await make.case(worker)
    assert await entries(client, people.boss) == [], "writes are not reads"

    response = await client.get(f"/api/v1/cases/{first['id']}", headers=worker.headers)
    assert response.status_code == 200
    (view,) = await entries(client, people.boss)
    assert view["action"] == "view"
    assert view["case_ids"] == [first["id"]]
    assert (view["user_id"], view["username"], view["role"]) == (
        str(worker.id),
        worker.username,
        "caseworker",
    )
    assert view["filters"] == {}
    assert set(view) == {"id", "at", "user_id", "username", "role", "action", "case_ids", "filters"}

    params = {"origin_country": "SLV", "status": "identified", "limit": "1"}
    response = await client.get("/api/v1/cases", params=params, headers=worker.headers)
    assert [c["id"] for c in response.json()["items"]] == [second["id"]]
    listed = (await entries(client, people.admin))[0]
    assert listed["action"] == "list"
    assert listed["case_ids"] == [second["id"]], "the cases of the page that was read"
    assert listed["filters"] == {"origin_country": "SLV", "status": "identified"}

    response = await client.get("/api/v1/cases", headers=worker.headers)
    assert len(response.json()["items"]) == 2
    listed = (await entries(client, people.admin))[0]
    assert sorted(listed["case_ids"]) == sorted([first["id"], second["id"]])
    assert listed["filters"] == {}

    response = await client.get(f"/api/v1/cases/{first['id']}/events", headers=usa.headers)
    assert response.status_code == 200
    events = (await entries(client, people.admin))[0]
    assert (events["action"], events["case_ids"], events["role"]) == (
        "events",
        [first["id"]],
        "resettlement_officer",
    )

    response = await client.get(
        "/api/v1/cases", params={"resettlement_country": OTHER_STATE}, headers=usa.headers
    )
    assert response.json()["items"] == []
    probe = (await entries(client, people.admin))[0]
    assert (probe["action"], probe["case_ids"], probe["filters"]) == (
        "list",
        [],
        {"resettlement_country": OTHER_STATE},
    ), "an empty page still logs the filter used"
    assert [e["action"] for e in await entries(client, people.admin)] == [
        "list",
        "events",
        "list",
        "list",
        "view",
    ]


async def test_the_log_is_filtered_and_paginated_newest_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    people = await make_cast(make)
    worker, boss, usa = people.worker, people.boss, people.usa
    builder = Builder(client, make, people)
    one = await builder.submitted(HOME_STATE)
    two = await builder.submitted(HOME_STATE)
    reads = [
        (worker, f"/api/v1/cases/{one['id']}"),
        (usa, f"/api/v1/cases/{one['id']}"),
        (worker, f"/api/v1/cases/{two['id']}/events"),
        (usa, "/api/v1/cases"),
        (worker, f"/api/v1/cases/{two['id']}"),
    ]
    for user, path in reads:
        assert (await client.get(path, headers=user.headers)).status_code == 200
    everything = await entries(client, boss)
    assert [e["action"] for e in everything] == ["view", "list", "events", "view", "view"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True), "newest first"
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)

    # Pages of two, newest first, without gaps or repeats.
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await log_page(client, people.admin, **params)
        assert len(page["items"]) <= 2
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    # Each filter alone, then together.
    by_user = await entries(client, boss, user_id=str(usa.id))
    assert [e["action"] for e in by_user] == ["list", "view"]
    assert {e["user_id"] for e in by_user} == {str(usa.id)}
    by_case = await entries(client, boss, case_id=two["id"])
    assert [e["action"] for e in by_case] == ["view", "list", "events"]
    assert all(two["id"] in e["case_ids"] for e in by_case)
    assert [e["action"] for e in await entries(client, boss, action="events")] == ["events"]
    assert [e["action"] for e in await entries(client, boss, action="export")] == []
    both = await entries(client, boss, user_id=str(worker.id), case_id=one["id"])
    assert [(e["action"], e["case_ids"]) for e in both] == [("view", [one["id"]])]
    assert await entries(client, boss, case_id=str(uuid.uuid4())) == []

    # from and to are inclusive timestamps.
    middle = everything[2]  # the events read
    exactly = await entries(client, boss, **{"from": middle["at"], "to": middle["at"]})
    assert [e["id"] for e in exactly] == [middle["id"]]
    since = await entries(client, boss, **{"from": middle["at"]})
    assert [e["id"] for e in since] == ids[:3]
    until = await entries(client, boss, to=middle["at"])
    assert [e["id"] for e in until] == ids[2:]
    assert await entries(client, boss, **{"from": "2100-01-01T00:00:00Z"}) == []


async def test_only_supervisors_and_admins_read_the_log(
    client: httpx.AsyncClient, make: Factory
) -> None:
    people = await make_cast(make)
    for role in ("caseworker", "resettlement_officer", "transit_officer", "manager"):
        problem = await log_page(client, people.role(role), expect=403)
        assert problem["code"] == "forbidden"
    for role in ("supervisor", "admin"):
        await log_page(client, people.role(role))
    response = await client.get(LOG)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_bad_log_queries_are_refused(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    for params in (
        {"limit": "0"},
        {"limit": "201"},
        {"cursor": "not-a-cursor"},
        {"action": "delete"},
        {"user_id": "someone"},
        {"from": "yesterday"},
        {"to": "2026-01-01T00:00:00"},  # a timestamp without its zone
        {"case": str(uuid.uuid4())},  # a typo must not return everything
    ):
        problem = await log_page(client, admin, expect=422, **params)
        assert problem["code"] == "validation_error", params
