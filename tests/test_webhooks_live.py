"""Webhook delivery inside real ``pta serve`` processes (issue 14): messages pending when a
server stops — or is killed in the middle of an attempt — are all delivered by the next one,
and two servers on one PostgreSQL database deliver each message once.

The events are written by the test's own application (which delivers nothing by itself);
the servers share only the database with it, and the receiver is a real HTTP server on
127.0.0.1 (tests/webhook_receiver.py)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.models import WebhookMessage
from tests.factories import Factory, TestUser
from tests.lifecycle_helpers import REVIEW, Driver, make_cast
from tests.live_server import LiveServer, start_server
from tests.webhook_receiver import Answer, Receiver, receiving

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

#: the live servers' ports (the receiver takes 18700-18749)
PORTS = range(18750, 18800)
TIMEOUT = 1.5
#: quick polling and retries, a short timeout (so the lease of a killed attempt ends soon)
SERVER_ENV = {
    "PTA_LOG_LEVEL": "INFO",
    "PTA_WEBHOOK_ALLOW_PRIVATE": "true",
    "PTA_WEBHOOK_POLL_SECONDS": "0.2",
    "PTA_WEBHOOK_BACKOFF_SECONDS": "0.3",
    "PTA_WEBHOOK_MAX_ATTEMPTS": "100",
    "PTA_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT),
}


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def serve(settings: Settings, folder: Path, **env: str) -> LiveServer:
    return start_server(
        settings.database_url, folder, extra_env={**SERVER_ENV, **env}, ports=PORTS
    )


async def subscribe(server: LiveServer, admin: TestUser, user: TestUser, url: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        made = await http.post(
            "/api/v1/webhooks", json={"user_id": str(user.id), "url": url}, headers=admin.headers
        )
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


async def messages(engine: AsyncEngine) -> dict[str, tuple[str, int]]:
    """Every message of the outbox: id → (status, attempts)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(WebhookMessage.id, WebhookMessage.status, WebhookMessage.attempts)
        )
        return {str(row[0]): (str(row[1]), int(row[2])) for row in rows}


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def write_events(drive: Driver, cases: int) -> list[dict[str, Any]]:
    """``cases`` new cases taken to review: three events each."""
    return [await drive.run(await drive.new_case(), REVIEW) for _ in range(cases)]


def in_case_order(receiver: Receiver, secret: str) -> None:
    """Each message verifies, and the delivered events of each case came in event order."""
    by_case: dict[str, list[int]] = {}
    for each in receiver.delivered():
        data = each.verified(secret)["data"]
        by_case.setdefault(data["case_id"], []).append(data["event_id"])
    for events in by_case.values():
        assert events == sorted(events), by_case


async def test_a_restart_with_messages_pending_loses_none(
    drive: Driver, engine: AsyncEngine, migrated: Settings, tmp_path: Path
) -> None:
    """Server one retries against a receiver answering 503, then is killed while attempts
    are in flight; server two delivers every message (those in flight once their lease
    ends), each verifiable, in order per case."""
    with receiving() as receiver:
        receiver.answer(default=Answer(503))
        first = serve(migrated, tmp_path / "first")
        try:
            secret = await subscribe(first, drive.cast.admin, drive.cast.worker, receiver.url)
            await write_events(drive, 4)
            await until(lambda: len(receiver.received) >= 8, 30, "attempts answered 503")
            receiver.answer(default=Answer(200, delay=30))  # the receiver hangs
            count = len(receiver.received)
            await until(lambda: len(receiver.received) > count, 30, "an attempt in flight")
        finally:
            first.crash()
        pending = await messages(engine)
        assert len(pending) == 12 and {s for s, _ in pending.values()} == {"pending"}
        receiver.answer(default=Answer(200))
        second = serve(migrated, tmp_path / "second")
        try:
            lease = 2 * TIMEOUT + 5
            await until(lambda: len(receiver.delivered()) >= 12, lease + 30, "every message")
            await asyncio.sleep(1)
        finally:
            second.stop()
        delivered = Counter(r.id for r in receiver.delivered())
        assert set(delivered) == set(pending), "every message, and only these"
        assert {s for s, _ in (await messages(engine)).values()} == {"delivered"}
        in_case_order(receiver, secret)
        attempts = [e for e in second.entries() if e.get("message") == "webhook attempt"]
        assert attempts and all(
            set(e) >= {"endpoint_id", "message_id", "status_code", "duration_ms"} for e in attempts
        )


async def test_two_servers_on_one_database_deliver_each_message_once(
    drive: Driver, engine: AsyncEngine, migrated: Settings, tmp_path: Path
) -> None:
    if migrated.is_sqlite:
        pytest.skip("several replicas share a PostgreSQL database (SQLite: one process)")
    with receiving() as receiver:
        receiver.answer(default=Answer(200, delay=0.02))
        # the contract's timeout: a loaded machine must not make a slow answer a resend
        servers = [
            serve(migrated, tmp_path / name, PTA_WEBHOOK_TIMEOUT_SECONDS="10")
            for name in ("one", "two")
        ]
        try:
            secret = await subscribe(servers[0], drive.cast.admin, drive.cast.worker, receiver.url)
            await write_events(drive, 20)
            await until(lambda: len(receiver.delivered()) >= 60, 60, "60 messages")
            await asyncio.sleep(2)  # time for a second send, were there one
        finally:
            for server in servers:
                server.stop()
        sent = Counter(r.id for r in receiver.received)
        assert len(sent) == 60 and set(sent.values()) == {1}, sent.most_common(3)
        stored = await messages(engine)
        assert set(stored) == set(sent)
        assert set(stored.values()) == {("delivered", 1)}
        in_case_order(receiver, secret)
        by_server = [
            sum(1 for e in server.entries() if e.get("message") == "webhook attempt")
            for server in servers
        ]
        assert sum(by_server) == 60, by_server
