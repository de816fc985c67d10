"""The CSV export streams: exporting 100,000 cases from a real server process keeps its
memory flat (the rows are never all in memory at once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.models import Case, Member
from app.models.base import uuid7
from tests.factories import Factory
from tests.test_cli import free_port

ROWS = 100_000
CHUNK = 5_000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def bulk_cases(engine: AsyncEngine, creator: uuid.UUID, count: int) -> None:
    now = datetime.now(UTC)
    for start in range(0, count, CHUNK):
        cases, members = [], []
        for number in range(start + 1, min(start + CHUNK, count) + 1):
            case_id = uuid7()
            cases.append(
                {
                    "id": case_id,
                    "reference": f"PTA-SLV-2020-{number:06d}",
                    "origin_country": "SLV",
                    "pathway": "transit",
                    "status": "identified",
                    "processing_priority": "normal",
                    "referral_source": "bulk",
                    "protection_summary": "bulk",
                    "member_count": 1,
                    "identified_at": date(2020, 1, 1),
                    "created_by": creator,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            members.append(
                {
                    "case_id": case_id,
                    "position": 1,
                    "is_principal": True,
                    "given_name": "Ana",
                    "family_name": "Bulk",
                    "sex": "female",
                    "date_of_birth": date(1990, 1, 1),
                    "dob_estimated": False,
                    "identified_at": date(2020, 1, 1),
                    "nationality": "SLV",
                    "relationship": "principal",
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(Case), cases)
            await conn.execute(insert(Member), members)


@pytest.mark.slow
async def test_export_of_100k_cases_keeps_memory_flat(
    migrated: Settings, engine: AsyncEngine, make: Factory
) -> None:
    worker = await make.user("caseworker")
    await bulk_cases(engine, worker.id, ROWS)
    port = free_port()
    env = {
        **os.environ,
        "PTA_DATABASE_URL": migrated.database_url,
        "PTA_SECRET_KEY": migrated.signing_key(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            # warm up: one small page through the same code paths
            await http.get("/api/v1/cases", params={"limit": 200}, headers=worker.headers)
            baseline = rss_kib(server.pid)
            peak, lines = baseline, 0
            async with http.stream(
                "GET", "/api/v1/cases/export", headers=worker.headers
            ) as response:
                assert response.status_code == 200
                async for _ in response.aiter_lines():
                    lines += 1
                    if lines % 2_000 == 0:
                        peak = max(peak, rss_kib(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert lines == ROWS + 2  # the header, its HXL hashtag row and one line per case
    growth_mib = (peak - baseline) / 1024
    print(f"export memory growth {growth_mib:.1f} MiB")
    assert growth_mib < 40, f"server memory grew by {growth_mib:.0f} MiB while streaming"
