"""The service's own audit work, in real ``pta serve`` processes: two services (three
workers) sealing every second while they are read seal one at a time — one linear seal
chain, about one seal a second, and it verifies — and the retention rule applied by the
service itself."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.models import Case, Seal
from app.services import verify
from tests.common import make_cast
from tests.factories import Factory
from tests.lifecycle_helpers import CLOSE, Driver, backdate, today
from tests.live_server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

API = "/api/v1"


async def test_two_services_seal_one_at_a_time(
    migrated: Settings,
    client: httpx.AsyncClient,
    make: Factory,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    drive = Driver(client, make, await make_cast(make))
    cases = [await drive.new_case() for _ in range(3)]
    every = {"PTA_SEAL_SECONDS": "1"}
    url = migrated.database_url
    with (
        running_server(url, tmp_path / "a", workers=2, extra_env=every) as one,
        running_server(url, tmp_path / "b", extra_env=every) as other,
    ):
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=10) as http:
            reads = 0
            while time.monotonic() - started < 6:
                for server in (one, other):
                    for case in cases:
                        answer = await http.get(
                            f"{server.url}{API}/cases/{case['id']}",
                            headers=drive.cast.worker.headers,
                        )
                        assert answer.status_code == 200, answer.text
                        reads += 1
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the last period's seal
        elapsed = time.monotonic() - started
        metrics = httpx.get(f"{one.url}/metrics").text
    async with engine.connect() as conn:
        seals = list((await conn.execute(select(Seal).order_by(Seal.id))).mappings())
    assert 3 <= len(seals) <= 2 * elapsed + 2, (len(seals), elapsed)
    for before, after in itertools.pairwise(seals):
        assert after["prev"] == before["root"] and after["first_id"] == before["last_id"] + 1
    assert sum(seal["count"] for seal in seals) >= reads
    made = [line for line in metrics.splitlines() if line.startswith("pta_seals_total")]
    assert made and float(made[0].split()[-1]) >= 1, metrics[-2000:]
    report = await verify.verify(engine)
    assert report.broken is None, report.broken
    assert report.sealed_rows >= reads and report.unsealed_events == 0


async def test_the_service_applies_the_retention_rule_itself(
    migrated: Settings,
    client: httpx.AsyncClient,
    make: Factory,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    drive = Driver(client, make, await make_cast(make))
    old = await drive.run(await drive.new_case(), [CLOSE])
    recent = await drive.run(await drive.new_case(), [CLOSE])
    long_ago = datetime.combine(today() - timedelta(days=400), datetime.min.time(), tzinfo=UTC)
    await backdate(engine, old["id"], closed_at=long_ago)
    env = {"PTA_RETENTION_DAYS": "365", "PTA_RETENTION_INTERVAL_SECONDS": "1"}
    with running_server(migrated.database_url, tmp_path / "s", extra_env=env) as server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                erased = dict((await conn.execute(select(Case.reference, Case.erased_at))).all())
            log, entries = server.output(), server.entries()
            # the run's log line is written after its commit: wait for both
            if erased[old["reference"]] is not None and any(
                e["message"] == "retention applied" for e in entries
            ):
                break
            await asyncio.sleep(0.2)
    assert erased[old["reference"]] is not None, log[-2000:]
    assert erased[recent["reference"]] is None
    runs = [e for e in entries if e["message"] == "retention applied"]
    assert runs and runs[0]["cases_erased"] == 1, log[-2000:]
    assert "Ana" not in log and old["reference"] not in log
