"""Retention on the demo data set (issue 15): a retention period that erases hundreds of
cases changes no funnel or transit figure, keeps the chains verifiable, and a run killed in
the middle (SIGKILL, a real process) leaves every case erased or untouched, never half; the
next run takes up the rest, and one more erases nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import SqlaDb, make_engine
from app.models import Base
from app.services import transit_report, users
from tests.live_server import ROOT, pta_command, run_pta

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

#: Cases resettled or closed before mid-2021 are erased: hundreds of the demo's.
DAYS = str((datetime.now(UTC).date() - date(2021, 7, 1)).days)
FUNNELS = (
    (),
    ("--group-by", "year"),
    ("--group-by", "resettlement_country"),
    ("--basis", "cohort", "--group-by", "origin_country"),
    ("--from", "2016-01-01", "--to", "2019-09-30"),
)
#: Per case due: erased_at, members erased, members in all, events erased, events in all,
#: free texts left (referral source, summary, decision reasons, stay notes).
PER_CASE = """
SELECT c.id, c.erased_at IS NOT NULL,
  (SELECT count(*) FROM members m WHERE m.case_id = c.id AND m.given_name = '[erased]'),
  (SELECT count(*) FROM members m WHERE m.case_id = c.id),
  (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.payload_digest IS NOT NULL),
  (SELECT count(*) FROM case_events e WHERE e.case_id = c.id),
  (CASE WHEN c.referral_source IS NULL AND c.protection_summary IS NULL THEN 0 ELSE 1 END)
  + (SELECT count(*) FROM submissions s WHERE s.case_id = c.id AND s.decision_reason IS NOT NULL)
  + (SELECT count(*) FROM transit_stays t WHERE t.case_id = c.id
     AND (t.authorisation_note IS NOT NULL OR t.refusal_reason IS NOT NULL))
FROM cases c WHERE c.reference IN :references
"""


async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture(scope="module")
async def demo(migrated: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(migrated.database_url, migrated, pool_size=2)
    await _empty(engine)
    loaded = await asyncio.to_thread(run_pta, migrated.database_url, "demo", "load")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    yield engine
    await _empty(engine)
    await engine.dispose()


async def figures(settings: Settings, engine: AsyncEngine) -> list[Any]:
    out: list[Any] = []
    for options in FUNNELS:
        done = run_pta(settings.database_url, "report", "funnel", "--format", "json", *options)
        assert done.returncode == 0, done.stderr
        out.append(done.stdout)
    async with engine.begin() as conn:
        db = SqlaDb(conn)
        report = await transit_report.transit_report(
            db, db, users.REPORTER, {"CRI": 200}, datetime.now(UTC)
        )
    out.append(report.model_dump(mode="json"))
    return out


async def per_case(engine: AsyncEngine, references: list[str]) -> list[Any]:
    statement = text(PER_CASE).bindparams(bindparam("references", expanding=True))
    async with engine.connect() as conn:
        return list((await conn.execute(statement, {"references": references})).all())


async def erased_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM cases WHERE erased_at IS NOT NULL"))
        return int(count or 0)


async def transactions_ended(engine: AsyncEngine) -> None:
    """PostgreSQL rolls back a killed client's transaction once it sees the connection gone
    (its row locks would make the next run skip that case until then)."""
    if engine.dialect.name != "postgresql":
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    )
    for _ in range(100):
        async with engine.connect() as conn:
            if not await conn.scalar(query):
                return
        await asyncio.sleep(0.1)


def start_apply(settings: Settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTA_")}
    env |= {"PTA_DATABASE_URL": settings.database_url, "PTA_RETENTION_DAYS": DAYS}
    return subprocess.Popen(
        [*pta_command(), "retention", "apply"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def test_a_killed_run_leaves_no_case_half_erased_and_no_figure_changes(
    demo: AsyncEngine, migrated: Settings
) -> None:
    env = {"PTA_RETENTION_DAYS": DAYS}
    before = await figures(migrated, demo)
    assert run_pta(migrated.database_url, "audit", "seal").returncode == 0
    dry = run_pta(migrated.database_url, "retention", "apply", "--dry-run", extra_env=env)
    due = dry.stdout.splitlines()[1:]
    assert dry.stdout.startswith(f"would erase {len(due):,} cases") and len(due) >= 300, dry.stdout

    running = start_apply(migrated)
    deadline = time.monotonic() + 120
    while await erased_count(demo) < 5 and running.poll() is None:
        assert time.monotonic() < deadline, "the run erased nothing"
        await asyncio.sleep(0.005)
    os.killpg(running.pid, signal.SIGKILL)
    running.wait()
    await transactions_ended(demo)
    stopped_at = await erased_count(demo)
    assert 5 <= stopped_at < len(due), f"killed after {stopped_at} of {len(due)}: not mid-run"

    erased = untouched = 0
    for case_id, marked, names, members, payloads, events, free_texts in await per_case(demo, due):
        if marked:
            erased += 1
            assert (names, payloads, free_texts) == (members, events, 0), case_id
        else:
            untouched += 1
            assert (names, payloads) == (0, 0), f"{case_id}: half erased"
    assert (erased, untouched) == (stopped_at, len(due) - stopped_at)

    rest = run_pta(migrated.database_url, "retention", "apply", extra_env=env)
    assert rest.stdout.strip() == f"erased {len(due) - stopped_at:,} cases", rest.stdout
    assert all(row[1] for row in await per_case(demo, due))
    assert await figures(migrated, demo) == before, "every figure is the same after erasure"
    verified = run_pta(migrated.database_url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "0 of them erased" not in verified.stdout
    again = run_pta(migrated.database_url, "retention", "apply", extra_env=env)
    assert again.stdout.strip() == "erased 0 cases"
