"""Strict input: a bad case is a clear 422 problem and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import Factory, case_body, member

TOMORROW = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


BAD_BODIES: dict[str, dict[str, Any]] = {
    "unknown field": case_body(status="resettled"),
    "mass assignment of id": case_body(id="01a21bca-d36a-7a05-a912-66a5a41158ef"),
    "lowercase country": case_body(origin_country="slv"),
    "not a country": case_body(origin_country="XXX"),
    "alpha-2 code": case_body(origin_country="SV"),
    "bad pathway": case_body(pathway="boat"),
    "bad priority": case_body(processing_priority="high"),
    "no members": case_body(members=[]),
    "no principal": case_body(members=[member(is_principal=False)]),
    "two principals": case_body(members=[member(), member(given_name="Eva")]),
    "thirty-one members": case_body(
        members=[member()] + [member(is_principal=False, relationship="child")] * 30
    ),
    "future identification": case_body(identified_at=TOMORROW),
    "future birth": case_body(members=[member(date_of_birth=TOMORROW)]),
    "date as a number": case_body(identified_at=20200101),
    "datetime for a date": case_body(identified_at="2020-01-01T00:00:00"),
    "bad sex": case_body(members=[member(sex="f")]),
    "boolean as a string": case_body(members=[member(is_principal="true")]),
    "empty name": case_body(members=[member(given_name="  ")]),
    "member unknown field": case_body(members=[member(religion="x")]),
    "missing origin": _without(case_body(), "origin_country"),
}


@pytest.mark.parametrize("name", BAD_BODIES)
async def test_bad_case_is_422_and_creates_nothing(
    client: httpx.AsyncClient, make: Factory, name: str
) -> None:
    worker = await make.user("caseworker")
    response = await client.post("/api/v1/cases", json=BAD_BODIES[name], headers=worker.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error" and problem["status"] == 422
    assert problem["errors"] and all("input" not in error for error in problem["errors"])
    listing = await client.get("/api/v1/cases", headers=worker.headers)
    assert listing.json()["items"] == []


async def test_invalid_json_and_wrong_types(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    for content in (b"{not json", b"\xff\xfe\x00", b"[]", b"null", b'"text"'):
        response = await client.post(
            "/api/v1/cases",
            content=content,
            headers={**worker.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, content
        assert response.json()["code"] == "validation_error"


async def test_references_follow_origin_and_year(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    first = await make.case(worker, origin_country="HND", identified_at="2018-05-01")
    second = await make.case(worker, origin_country="HND", identified_at="2018-07-01")
    other = await make.case(worker, origin_country="GTM", identified_at="2018-07-01")
    assert first["reference"] == "PTA-HND-2018-000001"
    assert second["reference"] == "PTA-HND-2018-000002"
    assert other["reference"] == "PTA-GTM-2018-000001"
    assert first["identified_at"] == "2018-05-01"


async def test_identified_at_defaults_to_today(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker)
    assert case["identified_at"] == datetime.now(UTC).date().isoformat()
