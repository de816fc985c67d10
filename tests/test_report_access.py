"""Issue 19, item 1: reports say no more than views — the funnel as each role gets it, as a
literal role × filter × group_by table on a hand-built history, with exact counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory, TestUser
from tests.timeline import Timeline

pytestmark = pytest.mark.reliability
URL = "/api/v1/reports/funnel"
YEAR = {"from": "2017-01-01", "to": "2017-12-31"}


@pytest.fixture
async def people(make: Factory, engine: AsyncEngine) -> dict[str, TestUser]:
    """A (2 people): submitted CAN 2017-03-01, denied, resubmitted USA 2017-05-01 (live),
    entered CRI 2017-06-01. B (1 person): submitted CAN 2017-03-05, entered CRI 2017-04-01,
    then withdrawn (no live submission). C (4 people): submitted USA 2017-02-01, no stay."""
    users = {
        "caseworker": await make.user("caseworker"),
        "supervisor": await make.user("supervisor"),
        "manager": await make.user("manager"),
        "usa": await make.user("resettlement_officer", "USA"),
        "can": await make.user("resettlement_officer", "CAN"),
        "cri": await make.user("transit_officer", "CRI"),
    }
    t = Timeline(engine, users["caseworker"], users["supervisor"])
    cri = users["cri"]
    a = await t.create("2017-01-10", 2)
    await t.to_review(a, "2017-02-01")
    await t.submit(a, "2017-03-01", "CAN")
    await t.act(users["can"], a, "decide", "2017-04-01", decision="denied", reason="No")
    await t.submit(a, "2017-05-01", "USA", action="resubmit")
    await t.act(users["caseworker"], a, "request_transit", "2017-05-02", transit_country="CRI")
    await t.act(cri, a, "authorise_transit", "2017-05-03")
    await t.act(cri, a, "record_transit_entry", "2017-06-01", entered_at="2017-06-01")
    b = await t.create("2017-01-20", 1)
    await t.to_review(b, "2017-02-01")
    await t.submit(b, "2017-03-05", "CAN")
    await t.act(users["caseworker"], b, "request_transit", "2017-03-06", transit_country="CRI")
    await t.act(cri, b, "authorise_transit", "2017-03-07")
    await t.act(cri, b, "record_transit_entry", "2017-04-01", entered_at="2017-04-01")
    await t.act(users["supervisor"], b, "withdraw_submission", "2017-05-01", reason="error")
    c = await t.create("2017-01-25", 4)
    await t.to_review(c, "2017-01-30")
    await t.submit(c, "2017-02-01", "USA")
    return users


Counts = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # identified, submitted, transit

#: role, extra parameters, expected status, expected (cases, people) per stage for the totals,
#: and the group keys (None: not grouped).
TABLE: list[tuple[str, dict[str, str], int, Counts | None, list[str] | None]] = [
    ("manager", {}, 200, ((3, 7), (3, 7), (2, 3)), None),
    ("manager", {"resettlement_country": "CAN"}, 200, ((2, 3), (2, 3), (2, 3)), None),
    (
        "manager",
        {"group_by": "resettlement_country"},
        200,
        ((3, 7), (3, 7), (2, 3)),
        ["CAN", "USA"],
    ),
    ("supervisor", {"resettlement_country": "USA"}, 200, ((2, 6), (2, 6), (1, 2)), None),
    ("caseworker", {"transit_country": "CRI"}, 200, ((2, 3), (2, 3), (2, 3)), None),
    # the transit officer: its country's stays, and only each case's live submission
    ("cri", {}, 200, ((2, 3), (2, 3), (2, 3)), None),
    ("cri", {"resettlement_country": "CAN"}, 200, ((0, 0), (0, 0), (0, 0)), None),
    ("cri", {"resettlement_country": "USA"}, 200, ((1, 2), (1, 2), (1, 2)), None),
    ("cri", {"group_by": "resettlement_country"}, 200, ((2, 3), (2, 3), (2, 3)), ["USA"]),
    ("cri", {"group_by": "origin_country"}, 200, ((2, 3), (2, 3), (2, 3)), ["SLV"]),
    ("cri", {"transit_country": "PAN"}, 403, None, None),
    # a resettlement officer: cases ever submitted to its state
    ("usa", {}, 200, ((2, 6), (2, 6), (1, 2)), None),
    ("usa", {"group_by": "resettlement_country"}, 200, ((2, 6), (2, 6), (1, 2)), ["USA"]),
    ("can", {}, 200, ((2, 3), (2, 3), (2, 3)), None),
    ("usa", {"resettlement_country": "CAN"}, 403, None, None),
    # officers: whole months only
    ("usa", {"from": "2017-01-02"}, 422, None, None),
    ("cri", {"to": "2017-12-30"}, 422, None, None),
    ("cri", {"as_of": "2017-06-15"}, 422, None, None),
    (
        "usa",
        {"group_by": "month", "from": "2017-02-01", "to": "2017-02-28"},
        200,
        ((0, 0), (1, 4), (0, 0)),
        ["2017-02"],
    ),
    ("manager", {"from": "2017-01-02", "to": "2017-12-30"}, 200, ((3, 7), (3, 7), (2, 3)), None),
]


def totals(report: dict[str, Any]) -> Counts:
    by = {s["stage"]: (s["cases"], s["people"]) for s in report["stages"]}
    return by["identified"], by["submitted"], by["in_transit"]


@pytest.mark.parametrize(("role", "params", "status", "counts", "groups"), TABLE)
async def test_role_filter_group_by(
    client: httpx.AsyncClient,
    people: dict[str, TestUser],
    role: str,
    params: dict[str, str],
    status: int,
    counts: Counts | None,
    groups: list[str] | None,
) -> None:
    query = {**YEAR, **params}
    response = await client.get(URL, params=query, headers=people[role].headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"
        return
    report = response.json()
    assert totals(report) == counts
    assert [g["key"] for g in report["groups"]] == (groups or [])


async def test_a_transit_officer_group_does_not_reveal_a_denial(
    client: httpx.AsyncClient, people: dict[str, TestUser]
) -> None:
    params = {**YEAR, "group_by": "resettlement_country", "basis": "cohort"}
    report = (await client.get(URL, params=params, headers=people["cri"].headers)).json()
    assert [(g["key"], totals(g)) for g in report["groups"]] == [("USA", ((1, 2), (1, 2), (1, 2)))]
    # fewer than 5 cases: no median for an officer; UNHCR gets it
    assert all(s["median_days"] is None for s in report["stages"])
    boss = (await client.get(URL, params=params, headers=people["supervisor"].headers)).json()
    assert boss["stages"][1]["median_days"] is not None


async def test_officer_defaults_and_medians_for_five_cases(
    client: httpx.AsyncClient, people: dict[str, TestUser], engine: AsyncEngine
) -> None:
    today = datetime.now(UTC).date()
    end_of_month = date(today.year + today.month // 12, today.month % 12 + 1, 1) - timedelta(1)
    report = (await client.get(URL, headers=people["usa"].headers)).json()
    assert (report["from"], report["to"]) == ("2016-01-01", end_of_month.isoformat())
    named = await client.get(
        URL, params={"to": end_of_month.isoformat()}, headers=people["usa"].headers
    )
    assert named.status_code == 200 and totals(named.json()) == totals(report)

    t = Timeline(engine, people["caseworker"], people["supervisor"])
    for day in ("2018-03-01", "2018-03-02", "2018-03-03", "2018-03-04", "2018-03-05"):
        case = await t.create(day, 1)
        await t.to_review(case, "2018-03-10")
        await t.submit(case, "2018-03-20", "USA")
    cohort = {"from": "2018-03-01", "to": "2018-03-31", "basis": "cohort"}
    report = (await client.get(URL, params=cohort, headers=people["usa"].headers)).json()
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["submitted"]["cases"] == 5 and stages["submitted"]["median_days"] == 17.0
    assert stages["in_transit"]["median_days"] is None
