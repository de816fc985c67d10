"""Prometheus metrics: every request's count and latency (recorded by RequestMiddleware), and
a few gauges about the programme read from the database when /metrics is scraped.

With several worker processes (``pta serve`` always runs this way, one worker or many) the
request metrics live in prometheus-client's multiprocess files under
``PROMETHEUS_MULTIPROC_DIR``, so any worker's /metrics answers for all of them. The domain
gauges are not per process at all: one cheap grouped query per scrape, cached for a few
seconds, so a burst of scrapes cannot load the database."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models.case import Case
from app.models.lifecycle import STAGE_OF_STATUS
from app.models.transit_stay import TransitStay
from app.models.webhook import WebhookMessage
from app.vocabulary import CaseStatus, StayStatus, WebhookStatus

log = logging.getLogger("pta.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: How long one reading of the domain gauges is served before the database is asked again.
DOMAIN_CACHE_SECONDS = 5.0
#: The most the domain query may take on PostgreSQL (SET LOCAL statement_timeout).
DOMAIN_QUERY_TIMEOUT_MS = 2000

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUSES = frozenset(status.value for status in CaseStatus)
UNMATCHED = "unmatched"  # the handler label of a request no route matched (bounded labels)

# The *_created series only add noise (and multiprocess mode has none).
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()
_LABELS = ("method", "handler", "status")
REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    _LABELS,
    registry=REGISTRY,
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method, route template "
    "and status.",
    _LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


WEBHOOK_DELIVERIES = Counter(
    "pta_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, http_error, gone, timeout, "
    "connection_error, address_refused, out_of_scope, secret_unreadable).",
    ("outcome",),
    registry=REGISTRY,
)
WEBHOOK_DURATION = Histogram(
    "pta_webhook_delivery_duration_seconds",
    "Time one webhook delivery attempt took, address check and signing included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def observe_webhook(outcome: str, seconds: float) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_DURATION.observe(seconds)


def observe_request(method: str, handler: str | None, status: int, seconds: float) -> None:
    labels = (method if method in _METHODS else "other", handler or UNMATCHED, str(status))
    REQUESTS.labels(*labels).inc()
    DURATION.labels(*labels).observe(seconds)


def request_metrics() -> bytes:
    """The request metrics of every worker process (multiprocess mode), or of this one."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@dataclass(frozen=True)
class TransitCounts:
    households: int = 0
    people: int = 0
    overstays: int = 0


@dataclass(frozen=True)
class DomainCounts:
    cases_by_status: Mapping[str, int]
    transit: Mapping[str, TransitCounts]
    webhook_messages: Mapping[str, int] = field(default_factory=dict)


async def read_domain_counts(engine: AsyncEngine, today: datetime) -> DomainCounts:
    """Three grouped queries in one short read-only transaction: cases per status (the status
    index), the households in transit per country (the stays in transit now) and the webhook
    messages pending or failed (the status index of the outbox)."""
    overstay = case((TransitStay.authorised_until < today.date(), 1), else_=0)
    async with engine.connect() as conn:
        conn = await conn.execution_options(pta_read_only=True)
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text(f"SET LOCAL statement_timeout = {int(DOMAIN_QUERY_TIMEOUT_MS)}")
                )
            statuses = await conn.execute(select(Case.status, func.count()).group_by(Case.status))
            by_status = {str(status): int(count) for status, count in statuses}
            stays = await conn.execute(
                select(
                    TransitStay.transit_country,
                    func.count(),
                    func.coalesce(func.sum(Case.member_count), 0),
                    func.coalesce(func.sum(overstay), 0),
                )
                .join(Case, Case.id == TransitStay.case_id)
                .where(TransitStay.status == StayStatus.in_transit)
                .group_by(TransitStay.transit_country)
            )
            transit = {
                str(country): TransitCounts(int(households), int(people), int(overstays))
                for country, households, people, overstays in stays
            }
            messages = await conn.execute(
                select(WebhookMessage.status, func.count())
                .where(WebhookMessage.status.in_([WebhookStatus.pending, WebhookStatus.failed]))
                .group_by(WebhookMessage.status)
            )
            webhook_messages = {str(status): int(count) for status, count in messages}
    return DomainCounts(by_status, transit, webhook_messages)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _case_gauges(counts: DomainCounts) -> Metric:
    cases = GaugeMetricFamily(
        "pta_cases",
        "Cases by current status and the stage it belongs to.",
        labels=["stage", "status"],
    )
    statuses = {status.value: 0 for status in CaseStatus} | dict(counts.cases_by_status)
    for status, count in sorted(statuses.items()):
        known = status in _STATUSES
        stage = STAGE_OF_STATUS[CaseStatus(status)].value if known else "unknown"
        cases.add_metric([stage, status], count)
    return cases


def _transit_gauges(counts: DomainCounts, capacity: Mapping[str, int]) -> list[Metric]:
    households = GaugeMetricFamily(
        "pta_households_in_transit",
        "Households in a transit country now (stays entered and not exited).",
        labels=["transit_country"],
    )
    people = GaugeMetricFamily(
        "pta_people_in_transit",
        "People (members of the households) in a transit country now.",
        labels=["transit_country"],
    )
    overstays = GaugeMetricFamily(
        "pta_transit_overstays",
        "Households in transit past their authorised_until date (UTC today).",
        labels=["transit_country"],
    )
    for country in sorted(set(counts.transit) | set(capacity)):
        line = counts.transit.get(country, TransitCounts())
        households.add_metric([country], line.households)
        people.add_metric([country], line.people)
        overstays.add_metric([country], line.overstays)
    families: list[Metric] = [households, people, overstays]
    if capacity:
        limit = GaugeMetricFamily(
            "pta_transit_capacity",
            "Configured places per transit country (PTA_TRANSIT_CAPACITY).",
            labels=["transit_country"],
        )
        for country, places in sorted(capacity.items()):
            limit.add_metric([country], places)
        families.append(limit)
    return families


def _webhook_gauges(counts: DomainCounts) -> list[Metric]:
    families: list[Metric] = []
    for status, what in (
        (WebhookStatus.pending, "Webhook messages not yet delivered (retries included)."),
        (WebhookStatus.failed, "Webhook messages given up on (an admin may retry them)."),
    ):
        gauge = GaugeMetricFamily(f"pta_webhook_messages_{status}", what)
        gauge.add_metric([], counts.webhook_messages.get(status, 0))
        families.append(gauge)
    return families


def render_domain(counts: DomainCounts | None, capacity: Mapping[str, int]) -> bytes:
    """The domain gauges in the text format; only ``pta_domain_metrics_up 0`` when the
    database could not be read (no stale numbers)."""
    up = GaugeMetricFamily(
        "pta_domain_metrics_up", "1 when the domain gauges could be read from the database."
    )
    up.add_metric([], 1 if counts is not None else 0)
    families: list[Metric] = [up]
    if counts is not None:
        families += [
            _case_gauges(counts),
            *_transit_gauges(counts, capacity),
            *_webhook_gauges(counts),
        ]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


@dataclass
class DomainGauges:
    """One per application: the last reading and when it was taken. One scrape at a time
    reads the database; the others wait for it and share its answer."""

    reading: tuple[float, DomainCounts | None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def render(self, engine: AsyncEngine, capacity: Mapping[str, int]) -> bytes:
        async with self.lock:
            now = time.monotonic()
            if self.reading is None or now - self.reading[0] >= DOMAIN_CACHE_SECONDS:
                counts: DomainCounts | None
                try:
                    counts = await read_domain_counts(engine, datetime.now(UTC))
                except Exception as error:  # the scrape still answers, with up = 0
                    log.warning(
                        "domain gauges unavailable", extra={"error_type": type(error).__name__}
                    )
                    counts = None
                self.reading = (time.monotonic(), counts)
            return render_domain(self.reading[1], capacity)
