"""The funnel report: exact counts on hand-built histories, both bases, filters, groups,
CSV with HXL, officer slices and bad parameters."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory, TestUser
from tests.timeline import Timeline

URL = "/api/v1/reports/funnel"


def stages(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {s["stage"]: (s["cases"], s["people"]) for s in report["stages"]}


@pytest.fixture
async def history(make: Factory, engine: AsyncEngine) -> dict[str, TestUser]:
    """Four households:
    A SLV 3 people: identified 2017-01-10, submitted USA 2017-03-01, entered CRI 2017-04-01,
      accepted, departed 2017-08-01, arrived 2017-08-03.
    B HND 2 people: identified 2017-02-01, submitted CAN 2017-05-01, denied, resubmitted USA
      2017-07-01 (counts as submitted once, in May).
    C GTM 1 person: identified 2018-01-01, closed 2018-02-01, reopened 2018-03-01, submitted
      AUS 2018-04-01.
    D SLV 4 people: identified 2019-12-01, nothing else.
    """
    users = {
        "worker": await make.user("caseworker"),
        "boss": await make.user("supervisor"),
        "usa": await make.user("resettlement_officer", "USA"),
        "can": await make.user("resettlement_officer", "CAN"),
        "cri": await make.user("transit_officer", "CRI"),
        "manager": await make.user("manager"),
    }
    t = Timeline(engine, users["worker"], users["boss"])
    a = await t.create("2017-01-10", 3, "SLV")
    await t.to_review(a, "2017-02-01")
    await t.submit(a, "2017-03-01", "USA")
    await t.act(users["worker"], a, "request_transit", "2017-03-02", transit_country="CRI")
    await t.act(users["cri"], a, "authorise_transit", "2017-03-10")
    await t.act(users["cri"], a, "record_transit_entry", "2017-04-01", entered_at="2017-04-01")
    await t.act(users["usa"], a, "decide", "2017-06-01", decision="accepted")
    await t.act(users["worker"], a, "record_departure", "2017-08-01", departed_at="2017-08-01")
    await t.act(users["boss"], a, "confirm_arrival", "2017-08-05", arrived_at="2017-08-03")

    b = await t.create("2017-02-01", 2, "HND")
    await t.to_review(b, "2017-03-01")
    await t.submit(b, "2017-05-01", "CAN")
    await t.act(users["can"], b, "decide", "2017-06-01", decision="denied", reason="Not eligible")
    await t.submit(b, "2017-07-01", "USA", action="resubmit")

    c = await t.create("2018-01-01", 1, "GTM")
    await t.act(users["boss"], c, "close", "2018-02-01", reason="lost_contact")
    await t.act(users["boss"], c, "reopen", "2018-03-01", reason="Found again")
    await t.to_review(c, "2018-03-02")
    await t.submit(c, "2018-04-01", "AUS")

    await t.create("2019-12-01", 4, "SLV")
    return users


async def get(client: httpx.AsyncClient, user: TestUser, **params: str) -> httpx.Response:
    return await client.get(URL, params=params, headers=user.headers)


async def test_cumulative_whole_programme(
    client: httpx.AsyncClient, history: dict[str, TestUser]
) -> None:
    report = (await get(client, history["manager"], to="2020-12-31", as_of="2020-12-31")).json()
    assert report["basis"] == "cumulative" and report["from"] == "2016-01-01"
    assert stages(report) == {
        "identified": (4, 10),
        "submitted": (3, 6),
        "in_transit": (1, 3),
        "resettled": (1, 3),
    }
    assert report["definition"] and report["groups"] == []


async def test_cumulative_window_counts_by_milestone_date(
    client: httpx.AsyncClient, history: dict[str, TestUser]
) -> None:
    report = (
        await get(client, history["manager"], **{"from": "2017-04-01", "to": "2018-01-31"})
    ).json()
    # identified C (2018-01-01); submitted B (2017-05-01, once); entered A; resettled A.
    assert stages(report) == {
        "identified": (1, 1),
        "submitted": (1, 2),
        "in_transit": (1, 3),
        "resettled": (1, 3),
    }


async def test_filters_and_groups(client: httpx.AsyncClient, history: dict[str, TestUser]) -> None:
    manager = history["manager"]
    usa = (await get(client, manager, resettlement_country="USA", to="2020-12-31")).json()
    assert stages(usa)["identified"] == (2, 5) and stages(usa)["submitted"] == (2, 5)
    assert usa["filters"] == {"resettlement_country": "USA"}
    slv = (await get(client, manager, origin_country="SLV", to="2020-12-31")).json()
    assert stages(slv)["identified"] == (2, 7)
    cri = (await get(client, manager, transit_country="CRI", to="2020-12-31")).json()
    assert stages(cri)["identified"] == (1, 3)

    by_year = (await get(client, manager, group_by="year", to="2020-12-31")).json()
    groups = {g["key"]: stages(g) for g in by_year["groups"]}
    assert groups["2017"]["identified"] == (2, 5) and groups["2018"]["submitted"] == (1, 1)
    assert groups["2019"]["identified"] == (1, 4)
    by_quarter = (await get(client, manager, group_by="quarter", to="2017-12-31")).json()
    assert {g["key"] for g in by_quarter["groups"]} == {"2017-Q1", "2017-Q2", "2017-Q3"}
    by_month = (await get(client, manager, group_by="month", to="2017-12-31")).json()
    months = {g["key"]: stages(g) for g in by_month["groups"]}
    assert months["2017-08"]["resettled"] == (1, 3) and months["2017-05"]["submitted"] == (1, 2)
    by_origin = (await get(client, manager, group_by="origin_country", to="2020-12-31")).json()
    assert {g["key"]: stages(g)["identified"] for g in by_origin["groups"]} == {
        "GTM": (1, 1),
        "HND": (1, 2),
        "SLV": (2, 7),
    }
    by_destination = (
        await get(client, manager, group_by="resettlement_country", to="2020-12-31")
    ).json()
    destinations = {g["key"]: stages(g)["submitted"] for g in by_destination["groups"]}
    # B was submitted to CAN and to USA: it appears in both groups, once in the total;
    # D, never submitted, has no destination group.
    assert destinations == {"AUS": (1, 1), "CAN": (1, 2), "USA": (2, 5)}
    assert stages(by_destination)["submitted"] == (3, 6)


async def test_cohort_with_median_days(
    client: httpx.AsyncClient, history: dict[str, TestUser]
) -> None:
    report = (
        await get(
            client,
            history["manager"],
            basis="cohort",
            **{"from": "2017-01-01", "to": "2017-12-31"},
            as_of="2017-06-30",
        )
    ).json()
    by_stage = {s["stage"]: s for s in report["stages"]}
    assert (by_stage["identified"]["cases"], by_stage["identified"]["people"]) == (2, 5)
    assert by_stage["identified"]["median_days"] == 0
    # By 2017-06-30: A submitted after 50 days, B after 89; A entered transit; none resettled.
    assert (by_stage["submitted"]["cases"], by_stage["submitted"]["median_days"]) == (2, 69.5)
    assert (by_stage["in_transit"]["cases"], by_stage["in_transit"]["median_days"]) == (1, 81)
    assert (by_stage["resettled"]["cases"], by_stage["resettled"]["median_days"]) == (0, None)


async def test_csv_long_format_with_hxl(
    client: httpx.AsyncClient, history: dict[str, TestUser]
) -> None:
    response = await client.get(
        URL,
        params={"group_by": "year", "to": "2018-12-31"},
        headers={**history["manager"].headers, "Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "date_start",
        "date_end",
        "origin_country",
        "resettlement_country",
        "indicator",
        "households",
        "individuals",
        "basis",
        "as_of",
        "transit_country",
    ]
    assert rows[1] == [
        "#date+start",
        "#date+end",
        "#country+code+origin",
        "#country+code+dest",
        "#indicator+code",
        "#indicator+num+hh",
        "#indicator+num+ind",
        "#meta+basis",
        "#date+reported",
        "#country+code+transit",
    ]
    as_of = rows[2][-2]
    assert [
        "2017-01-01",
        "2017-12-31",
        "",
        "",
        "identified",
        "2",
        "5",
        "cumulative",
        as_of,
        "",
    ] in rows
    as_param = await client.get(
        URL,
        params={"format": "csv", "group_by": "year", "to": "2018-12-31"},
        headers=history["manager"].headers,
    )
    assert as_param.text == response.text


async def test_officers_get_their_own_slice(
    client: httpx.AsyncClient, history: dict[str, TestUser]
) -> None:
    usa = (await get(client, history["usa"], to="2020-12-31")).json()
    assert usa["filters"] == {"resettlement_country": "USA"} and stages(usa)["identified"] == (2, 5)
    refused = await get(client, history["usa"], resettlement_country="CAN")
    assert refused.status_code == 403
    cri = (await get(client, history["cri"], to="2020-12-31")).json()
    assert cri["filters"] == {"transit_country": "CRI"} and stages(cri)["identified"] == (1, 3)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2019-01-01", "to": "2018-01-01"},
        {"group_by": "week"},
        {"basis": "rolling"},
        {"from": "2019-13-01"},
        {"origin_country": "XXX"},
        {"colour": "blue"},
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, make: Factory, params: dict[str, str]
) -> None:
    manager = await make.user("manager")
    response = await client.get(URL, params=params, headers=manager.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_command_line_gives_the_api_numbers(
    client: httpx.AsyncClient, history: dict[str, TestUser], migrated: Any
) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PTA_DATABASE_URL": migrated.database_url,
        "PTA_SECRET_KEY": migrated.signing_key(),
    }
    args = ["--to", "2020-12-31", "--group-by", "year"]
    api = (await get(client, history["manager"], to="2020-12-31", group_by="year")).json()

    def pta(*extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "report", "funnel", *args, *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        return done.stdout

    assert json.loads(pta("--format", "json")) == api
    table = pta()
    assert "identified" in table and "2017" in table and "10" in table  # 10 people identified
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "report",
            "funnel",
            "--from",
            "2020-01-01",
            "--to",
            "2019-01-01",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2 and "from must not be after to" in bad.stderr
