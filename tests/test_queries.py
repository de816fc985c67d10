"""What resettlement states and transit countries query: every filter, keyset pagination
while cases are added, ``updated_since`` sync, and the CSV export per role."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory, TestUser
from tests.timeline import Timeline


async def all_pages(
    client: httpx.AsyncClient, user: TestUser, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/cases", params=query, headers=user.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def world(make: Factory, engine: AsyncEngine) -> dict[str, Any]:
    """Five households in different places:
    a SLV urgent, identified 2017-03-01, submitted USA, in transit in CRI;
    b HND normal, identified 2018-06-01, submitted CAN (denied) then USA;
    c GTM emergency, identified 2019-01-15, submitted AUS, requested transit to PAN (refused);
    d SLV normal, identified 2020-02-02, still in assessment;
    e GTM urgent, identified 2021-05-05, in-country pathway, closed.
    """
    u = {
        "worker": await make.user("caseworker"),
        "boss": await make.user("supervisor"),
        "usa": await make.user("resettlement_officer", "USA"),
        "can": await make.user("resettlement_officer", "CAN"),
        "cri": await make.user("transit_officer", "CRI"),
        "pan": await make.user("transit_officer", "PAN"),
        "manager": await make.user("manager"),
    }
    t = Timeline(engine, u["worker"], u["boss"])
    ids = {}
    ids["a"] = await t.create("2017-03-01", 2, "SLV", processing_priority="urgent")
    await t.to_review(ids["a"], "2017-03-05")
    await t.submit(ids["a"], "2017-04-01", "USA")
    await t.act(u["worker"], ids["a"], "request_transit", "2017-04-02", transit_country="CRI")
    await t.act(u["cri"], ids["a"], "authorise_transit", "2017-04-03")
    await t.act(u["cri"], ids["a"], "record_transit_entry", "2017-04-10", entered_at="2017-04-10")

    ids["b"] = await t.create("2018-06-01", 3, "HND", processing_priority="normal")
    await t.to_review(ids["b"], "2018-06-02")
    await t.submit(ids["b"], "2018-07-01", "CAN")
    await t.act(u["can"], ids["b"], "decide", "2018-08-01", decision="denied", reason="No")
    await t.submit(ids["b"], "2018-09-01", "USA", action="resubmit")

    ids["c"] = await t.create("2019-01-15", 1, "GTM", processing_priority="emergency")
    await t.to_review(ids["c"], "2019-01-16")
    await t.submit(ids["c"], "2019-02-01", "AUS")
    await t.act(u["worker"], ids["c"], "request_transit", "2019-02-02", transit_country="PAN")
    await t.act(u["pan"], ids["c"], "refuse_transit", "2019-02-03", reason="Full")

    ids["d"] = await t.create("2020-02-02", 4, "SLV", processing_priority="normal")
    await t.act(u["worker"], ids["d"], "start_assessment", "2020-02-03")

    ids["e"] = await t.create(
        "2021-05-05", 1, "GTM", processing_priority="urgent", pathway="in_country"
    )
    await t.act(u["boss"], ids["e"], "close", "2021-06-01", reason="no_longer_at_risk")
    return {"users": u, "ids": {k: str(v) for k, v in ids.items()}}


FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({}, {"a", "b", "c", "d", "e"}),
    ({"stage": "transit"}, {"a"}),
    ({"stage": "submission"}, {"b", "c"}),
    ({"stage": "identification"}, {"d"}),
    ({"stage": "closed"}, {"e"}),
    ({"status": "assessment"}, {"d"}),
    ({"origin_country": "GTM"}, {"c", "e"}),
    ({"resettlement_country": "USA"}, {"a", "b"}),
    ({"resettlement_country": "CAN"}, {"b"}),
    ({"transit_country": "CRI"}, {"a"}),
    ({"transit_country": "PAN"}, {"c"}),
    ({"processing_priority": "urgent"}, {"a", "e"}),
    ({"identified_from": "2018-01-01"}, {"b", "c", "d", "e"}),
    ({"identified_to": "2019-01-15"}, {"a", "b", "c"}),
    (
        {"identified_from": "2018-01-01", "identified_to": "2020-12-31", "origin_country": "SLV"},
        {"d"},
    ),
    ({"resettlement_country": "USA", "stage": "submission"}, {"b"}),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS)
async def test_every_filter(
    client: httpx.AsyncClient, world: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    names = {v: k for k, v in world["ids"].items()}
    found = await all_pages(client, world["users"]["worker"], limit="2", **params)
    assert sorted(names[item["id"]] for item in found) == sorted(expected)
    exported = await client.get(
        "/api/v1/cases/export", params=params, headers=world["users"]["worker"].headers
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["id"] == "#meta+id"  # the HXL hashtag row under the header
    assert sorted(names[row["id"]] for row in rows[1:]) == sorted(expected)


async def test_officer_filters_stay_inside_their_scope(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    names = {v: k for k, v in world["ids"].items()}
    users = world["users"]
    usa = await all_pages(client, users["usa"])
    assert sorted(names[i["id"]] for i in usa) == ["a", "b"]
    assert await all_pages(client, users["usa"], resettlement_country="CAN") == []
    cri = await all_pages(client, users["cri"])
    assert [names[i["id"]] for i in cri] == ["a"]
    assert await all_pages(client, users["pan"]) == []  # its only stay was refused
    assert await all_pages(client, users["cri"], transit_country="PAN") == []


async def test_pagination_is_complete_and_duplicate_free_while_cases_are_added(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    existing = {(await make.case(worker))["id"] for _ in range(12)}
    seen: list[str] = []
    cursor = None
    added = 0
    while True:
        params = {"limit": "5", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/cases", params=params, headers=worker.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if added < 6:  # new cases arrive between pages
            await make.case(worker)
            await make.case(worker)
            added += 2
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert existing <= set(seen)


async def test_updated_since_returns_only_what_changed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    first = await make.case(worker)
    await make.case(worker)
    mark = datetime.now(UTC)
    response = await client.get(
        "/api/v1/cases", params={"updated_since": mark.isoformat()}, headers=worker.headers
    )
    assert response.json()["items"] == []
    await make.act(worker, first, "start_assessment")
    changed = await client.get(
        "/api/v1/cases", params={"updated_since": mark.isoformat()}, headers=worker.headers
    )
    assert [item["id"] for item in changed.json()["items"]] == [first["id"]]
    earlier = (mark - timedelta(hours=1)).isoformat()
    assert (
        len(
            (
                await client.get(
                    "/api/v1/cases", params={"updated_since": earlier}, headers=worker.headers
                )
            ).json()["items"]
        )
        == 2
    )
    naive = await client.get(
        "/api/v1/cases", params={"updated_since": "2024-01-01T00:00:00"}, headers=worker.headers
    )
    assert naive.status_code == 422  # a timestamp needs its offset (Z)


async def test_csv_columns_follow_the_role(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    users = world["users"]

    async def header(user: TestUser) -> list[str]:
        response = await client.get("/api/v1/cases/export", headers=user.headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        return next(csv.reader(io.StringIO(response.text)))

    unhcr = await header(users["worker"])
    assert {"reference", "origin_country", "referral_source", "protection_summary"} <= set(unhcr)
    state = await header(users["usa"])
    assert "referral_source" not in state and "previously_submitted_elsewhere" in state
    transit = await header(users["cri"])
    assert not {"referral_source", "protection_summary", "pathway"} & set(transit)
    manager = await client.get("/api/v1/cases/export", headers=users["manager"].headers)
    assert manager.status_code == 403


async def test_export_is_logged_once_with_its_filter(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    users = world["users"]
    await client.get(
        "/api/v1/cases/export", params={"origin_country": "SLV"}, headers=users["usa"].headers
    )
    log = (
        await client.get(
            "/api/v1/audit/access-log", params={"action": "export"}, headers=users["boss"].headers
        )
    ).json()
    assert len(log["items"]) == 1
    entry = log["items"][0]
    assert entry["user_id"] == str(users["usa"].id) and entry["filters"] == {
        "origin_country": "SLV"
    }


@pytest.mark.parametrize(
    "params", [{"processing_priority": "urgent"}, {"identified_from": "2018-01-01"}]
)
async def test_officers_cannot_filter_by_fields_they_do_not_see(
    client: httpx.AsyncClient, world: dict[str, Any], params: dict[str, str]
) -> None:
    for name in ("usa", "cri"):
        user = world["users"][name]
        listed = await client.get("/api/v1/cases", params=params, headers=user.headers)
        exported = await client.get("/api/v1/cases/export", params=params, headers=user.headers)
        assert (listed.status_code, exported.status_code) == (403, 403)
        assert listed.json()["code"] == "forbidden"
