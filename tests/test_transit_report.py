"""The transit report: who is in each transit country now, capacity, stays ending within 30
days and overstays — and who may see the households behind the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory
from tests.timeline import Timeline

URL = "/api/v1/reports/transit"


def days_ago(n: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=n)).isoformat()


@pytest.fixture
async def stays(make: Factory, engine: AsyncEngine) -> dict[str, Any]:
    """In CRI: ok (entered 10 days ago, 3 people, USA), ending soon (entered 160 days ago,
    2 people, CAN), overstay (entered 200 days ago, 1 person, USA). In PAN: one ok household
    of 4 (USA). One CRI household departed (not counted)."""
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
    plan = [
        ("ok", 10, 3, "USA", "CRI"),
        ("soon", 160, 2, "CAN", "CRI"),
        ("over", 200, 1, "USA", "CRI"),
        ("pan", 5, 4, "USA", "PAN"),
        ("gone", 100, 2, "USA", "CRI"),
    ]
    for name, entered, size, state, country in plan:
        start = days_ago(entered + 30)
        case_id = await t.create(start, size)
        await t.to_review(case_id, start)
        await t.submit(case_id, start, state)
        await t.act(u["worker"], case_id, "request_transit", start, transit_country=country)
        await t.act(u[country.lower()], case_id, "authorise_transit", start)
        await t.act(
            u[country.lower()],
            case_id,
            "record_transit_entry",
            days_ago(entered),
            entered_at=days_ago(entered),
        )
        ids[name] = case_id
    await t.act(u["usa"], ids["gone"], "decide", days_ago(50), decision="accepted")
    await t.act(
        u["worker"], ids["gone"], "record_departure", days_ago(40), departed_at=days_ago(40)
    )
    return {"users": u, "ids": {name: str(case_id) for name, case_id in ids.items()}}


def by_country(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["transit_country"]: entry for entry in report["countries"]}


async def test_counts_capacity_and_states(client: httpx.AsyncClient, stays: dict[str, Any]) -> None:
    report = (await client.get(URL, headers=stays["users"]["boss"].headers)).json()
    assert report["as_of"] == datetime.now(UTC).date().isoformat()
    countries = by_country(report)
    cri = countries["CRI"]
    assert (cri["households_in_transit"], cri["people_in_transit"]) == (3, 6)
    assert cri["capacity"] == 200 and cri["occupancy"] == pytest.approx(6 / 200)
    assert (cri["ending_within_30_days"], cri["overstays"]) == (1, 1)
    states = {line["case_id"]: line["state"] for line in cri["stays"]}
    ids = stays["ids"]
    assert states == {ids["ok"]: "ok", ids["soon"]: "ending_soon", ids["over"]: "overstay"}
    pan = countries["PAN"]
    assert (pan["households_in_transit"], pan["capacity"], pan["occupancy"]) == (1, None, None)


async def test_managers_get_counts_without_households(
    client: httpx.AsyncClient, stays: dict[str, Any]
) -> None:
    report = (await client.get(URL, headers=stays["users"]["manager"].headers)).json()
    assert by_country(report)["CRI"]["people_in_transit"] == 6
    assert all(entry["stays"] == [] for entry in report["countries"])


async def test_officers_see_their_own(client: httpx.AsyncClient, stays: dict[str, Any]) -> None:
    users, ids = stays["users"], stays["ids"]
    cri = (await client.get(URL, headers=users["cri"].headers)).json()
    assert list(by_country(cri)) == ["CRI"]
    pan = (await client.get(URL, headers=users["pan"].headers)).json()
    assert list(by_country(pan)) == ["PAN"] and by_country(pan)["PAN"]["people_in_transit"] == 4
    can = (await client.get(URL, headers=users["can"].headers)).json()
    can_lines = [line["case_id"] for entry in can["countries"] for line in entry["stays"]]
    assert can_lines == [ids["soon"]]


async def test_reading_households_is_logged(
    client: httpx.AsyncClient, stays: dict[str, Any]
) -> None:
    users = stays["users"]
    await client.get(URL, headers=users["pan"].headers)
    await client.get(URL, headers=users["manager"].headers)
    log = (
        await client.get(
            "/api/v1/audit/access-log", params={"action": "report"}, headers=users["boss"].headers
        )
    ).json()
    assert [(e["user_id"], e["case_ids"]) for e in log["items"]] == [
        (str(users["pan"].id), [stays["ids"]["pan"]])
    ]
