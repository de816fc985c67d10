"""GET /metrics in one process: request counters and latencies by route template and status,
the domain gauges read from the database, and what a scrape costs the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app import metrics
from app.models.transit_stay import TransitStay
from tests.factories import Factory, member

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "x-request-id" in response.headers
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):  # also checks the format
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, method: str, handler: str, status: int) -> float:
    labels = {"method": method, "handler": handler, "status": str(status)}
    return value(samples, "http_requests_total", **labels)


def observed(samples: Samples, method: str, handler: str, status: int) -> float:
    labels = {"method": method, "handler": handler, "status": str(status)}
    return value(samples, "http_request_duration_seconds_count", **labels)


@pytest.fixture
def fresh_gauges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the domain gauges from the database at every scrape."""
    monkeypatch.setattr(metrics, "DOMAIN_CACHE_SECONDS", 0.0)


async def test_request_counters_move_by_route_template_and_status(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker)
    template = "/api/v1/cases/{case_id}"
    before = await scrape(client)

    for _ in range(3):
        got = await client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
        assert got.status_code == 200
    missing = "/api/v1/cases/00000000-0000-7000-8000-000000000000"
    assert (await client.get(missing, headers=worker.headers)).status_code == 404
    assert (await client.get(f"/api/v1/cases/{case['id']}")).status_code == 401
    assert (await client.get("/no/such/page")).status_code == 404
    assert (await client.request("BREW", "/healthz")).status_code == 405

    after = await scrape(client)
    assert requests(after, "GET", template, 200) - requests(before, "GET", template, 200) == 3
    assert observed(after, "GET", template, 200) - observed(before, "GET", template, 200) == 3
    assert requests(after, "GET", template, 404) - requests(before, "GET", template, 404) == 1
    assert requests(after, "GET", template, 401) - requests(before, "GET", template, 401) == 1
    # a path no route matches is one bounded label, never the path itself
    assert requests(after, "GET", "unmatched", 404) - requests(before, "GET", "unmatched", 404) == 1
    assert not any("/no/such/page" in str(labels) for _, labels in after)
    assert not any(case["id"] in str(labels) for _, labels in after)
    # an unknown method is one bounded label too
    assert (
        requests(after, "other", "/healthz", 405) - requests(before, "other", "/healthz", 405) == 1
    )
    # the scrape before this one is counted now
    assert requests(after, "GET", "/metrics", 200) >= 1
    labels = {"method": "GET", "handler": template, "status": "200"}
    assert value(after, "http_request_duration_seconds_sum", **labels) > value(
        before, "http_request_duration_seconds_sum", **labels
    )
    slowest = value(after, "http_request_duration_seconds_bucket", **labels, le="+Inf")
    assert slowest == observed(after, "GET", template, 200)


async def test_post_and_transition_routes_are_templates(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    before = await scrape(client)
    case = await make.case(worker)
    await make.act(worker, case, "start_assessment")
    after = await scrape(client)
    assert (
        requests(after, "POST", "/api/v1/cases", 201)
        - requests(before, "POST", "/api/v1/cases", 201)
        == 1
    )
    moves = "/api/v1/cases/{case_id}/transitions"
    assert requests(after, "POST", moves, 200) - requests(before, "POST", moves, 200) == 1


async def test_cases_by_stage_and_people_in_transit(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine, fresh_gauges: None
) -> None:
    empty = await scrape(client)
    assert value(empty, "pta_domain_metrics_up") == 1
    assert value(empty, "pta_cases", stage="identification", status="identified") == 0
    assert value(empty, "pta_transit_capacity", transit_country="CRI") == 200  # configured
    assert value(empty, "pta_people_in_transit", transit_country="CRI") == 0

    worker = await make.user("caseworker")
    boss = await make.user("supervisor")
    cri = await make.user("transit_officer", "CRI")
    await make.case(worker)
    await make.case(worker)
    household = [
        member(),
        member(is_principal=False, given_name="Luis", relationship="child"),
        member(is_principal=False, given_name="Rosa", relationship="child"),
    ]
    moving = await make.case(worker, members=household)
    moving = await make.act(worker, moving, "start_assessment")
    moving = await make.act(worker, moving, "request_review")
    moving = await make.act(
        boss,
        moving,
        "submit",
        resettlement_country="USA",
        submission_priority="urgent",
        primary_category="legal_physical_protection_needs",
        secondary_category="women_girls_at_risk",
    )
    moving = await make.act(worker, moving, "request_transit", transit_country="CRI")
    seen = await make.act(cri, moving, "authorise_transit")
    today = datetime.now(UTC).date().isoformat()
    await make.act(cri, seen, "record_transit_entry", entered_at=today)

    counted = await scrape(client)
    assert value(counted, "pta_cases", stage="identification", status="identified") == 2
    assert value(counted, "pta_cases", stage="transit", status="in_transit") == 1
    assert value(counted, "pta_cases", stage="submission", status="submitted") == 0
    assert value(counted, "pta_households_in_transit", transit_country="CRI") == 1
    assert value(counted, "pta_people_in_transit", transit_country="CRI") == 3
    assert value(counted, "pta_transit_overstays", transit_country="CRI") == 0

    # The stay's authorised end passes (set in the database: the API cannot shorten a stay).
    today_date = datetime.now(UTC).date()
    async with engine.begin() as conn:
        await conn.execute(
            update(TransitStay).values(
                entered_at=today_date - timedelta(days=200),
                authorised_until=today_date - timedelta(days=1),
            )
        )
    overdue = await scrape(client)
    assert value(overdue, "pta_transit_overstays", transit_country="CRI") == 1
    assert value(overdue, "pta_people_in_transit", transit_country="CRI") == 3


async def test_a_burst_of_scrapes_reads_the_database_once(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = metrics.read_domain_counts

    async def counting(engine: AsyncEngine, today: datetime) -> metrics.DomainCounts:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # a slow database: the other scrapes must wait, not query
        return await real(engine, today)

    monkeypatch.setattr(metrics, "read_domain_counts", counting)
    monkeypatch.setattr(metrics, "DOMAIN_CACHE_SECONDS", 60.0)
    app.state.domain_gauges = metrics.DomainGauges()  # forget earlier readings
    answers = await asyncio.gather(*(client.get("/metrics") for _ in range(5)))
    assert all(answer.status_code == 200 for answer in answers)
    assert all("pta_cases{" in answer.text for answer in answers)
    assert calls == 1
    monkeypatch.setattr(metrics, "DOMAIN_CACHE_SECONDS", 0.0)
    await client.get("/metrics")
    assert calls == 2


async def test_scrape_answers_when_the_database_does_not(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch, fresh_gauges: None
) -> None:
    async def broken(engine: AsyncEngine, today: datetime) -> metrics.DomainCounts:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(metrics, "read_domain_counts", broken)
    samples = await scrape(client)
    assert value(samples, "pta_domain_metrics_up") == 0
    assert not any(name == "pta_cases" for name, _ in samples)  # no stale numbers
    assert any(name == "http_requests_total" for name, _ in samples)
