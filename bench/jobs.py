"""The service's long jobs, timed as a user runs them (their own process, from the command
line): ``pta audit verify`` over as many cases as the main database holds — every case's hash
chain and every seal — with its time and peak RSS (it must verify in bounded memory), on a
database of its own (``AUDIT_DB``: pgbench's replays of the event insert break the main
database's chains, by design), and ``pta retention apply``
over RETENTION_DUE due cases, in a database of their own that it erases (so it is loaded anew
for each run)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg

from bench import load

#: how many cases ``pta retention apply`` is timed over (--quick: a tenth)
RETENTION_DUE = 100_000
#: the retention database holds this many times as many cases, to have that many resettled
#: or closed
RETENTION_LOADED = 3
RETENTION_DB = "pta_bench_retention"
AUDIT_DB = "pta_bench_audit"


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_rss_mb: float
    code: int
    output: str  # its last line (stdout, else stderr)


def _high_water_mb(pid: int) -> float | None:
    """The process's peak RSS so far (``VmHWM``; reset by ``exec``), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run_timed(args: list[str], env: dict[str, str]) -> Timed:
    """Run one command to its end: wall time, and its peak RSS read from ``/proc`` while it
    runs (``VmHWM``, every 0.1 s: a high-water mark, so only growth in the last 0.1 s could
    be missed). Not ``wait4``'s ``ru_maxrss``: Linux keeps that across ``exec``, so a child of
    this big process would report the parent's size."""
    peak = 0.0
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=load.ROOT
        )
        while process.poll() is None:
            peak = max(peak, _high_water_mb(process.pid) or 0.0)
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines() or [""]
    return Timed(seconds, peak, process.returncode, lines[-1][:300])


def audit_verify(url: str, cases: int) -> str:
    """``pta audit verify`` over the whole database: one line for the report."""
    done = run_timed([load.PTA, "audit", "verify"], {"PTA_DATABASE_URL": url})
    verdict = "ok" if done.code == 0 else f"FAILED (exit {done.code})"
    return (
        f"pta audit verify over {cases:,} cases: {done.seconds:.0f} s, peak RSS "
        f"{done.peak_rss_mb:.0f} MB — {verdict}: {done.output}"
    )


async def _retention_days(url: str, today: date, wanted: int) -> int:
    """A retention period that makes about ``wanted`` resettled or closed cases due (the
    ``wanted``-th oldest resettlement or closure day is the last day due)."""
    conn = await asyncpg.connect(url)
    try:
        day = await conn.fetchval(
            "SELECT d FROM (SELECT CASE WHEN status = 'resettled' THEN resettled_at"
            " ELSE (closed_at AT TIME ZONE 'UTC')::date END AS d FROM cases"
            " WHERE status IN ('resettled', 'closed')) AS done ORDER BY d OFFSET $1 LIMIT 1",
            wanted - 1,
        )
    finally:
        await conn.close()
    if day is None:
        raise RuntimeError(f"fewer than {wanted:,} resettled or closed cases")
    return int((today - day).days) - 1  # the cutoff is the day after it


def _due_count(env: dict[str, str]) -> int:
    """How many cases the service's own rule finds due (``pta retention apply --dry-run``)."""
    first = load.pta(env["PTA_DATABASE_URL"], "retention", "apply", "--dry-run", env=env)
    return int(first.split()[2].replace(",", ""))  # "would erase 100,024 cases"


async def retention_apply(server: str, wanted: int, progress: Callable[[str], None]) -> str:
    """Load the retention database, then time ``pta retention apply`` over about ``wanted``
    due cases: one line."""
    url = load.database_url(RETENTION_DB, server)
    cases = wanted * RETENTION_LOADED
    progress(f"loading {RETENTION_DB}: {cases:,} cases")
    await load.prepare_database(url, cases, funnel_only=False, progress=progress)
    days = await _retention_days(url, date.today(), wanted)
    env = {"PTA_DATABASE_URL": url, "PTA_RETENTION_DAYS": str(days)}
    due = _due_count(env)
    progress(f"pta retention apply over {due:,} due cases (PTA_RETENTION_DAYS={days})")
    done = run_timed([load.PTA, "retention", "apply"], env)
    verdict = "ok" if done.code == 0 else f"FAILED (exit {done.code})"
    rate = due / done.seconds if done.seconds else 0
    return (
        f"pta retention apply over {due:,} due cases: {done.seconds:.0f} s ({rate:,.0f} cases/s), "
        f"peak RSS {done.peak_rss_mb:.0f} MB — {verdict}: {done.output}"
    )
