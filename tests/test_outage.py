"""Database outage: a private, throwaway PostgreSQL (initdb in a temporary folder, its own port)
under a real ``pta serve`` and a bounded load of writes. The database is stopped twice — an
immediate stop (a crash, as far as the service can tell) and a fast stop (an operator's) — and
started again each time.

While it is down every request answers within 5 s, with 503 problem+json (never a 500, never a
hang), and /readyz answers 503. Once it is back the same service process recovers within 5 s.
Afterwards the database holds exactly what the clients were told: a case exists if and only if
its creation got 201, and each case has one event for its creation plus one per write that got
200, and its version equals its number of events — nothing half-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app import security
from app.config import Settings
from app.db import SqlaDb, make_engine
from app.schemas.users import UserCreate
from app.services import users
from tests import tools
from tests.conftest import SECRET
from tests.factories import case_body
from tests.live_server import LiveServer, free_port, start_server

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

PG_PORTS = range(18450, 18460)
#: PostgreSQL's server programs: on PATH, or where Debian's postgresql package puts them
BIN = Path(
    shutil.which("pg_ctl")
    or max(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), default="/usr/local/bin/pg_ctl")
).parent
ANSWER_WITHIN = 5.0
RECOVER_WITHIN = 5.0


class PrivatePostgres:
    """initdb + pg_ctl in a temporary folder (as the postgres OS user when we are root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port(PG_PORTS)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.folder / "postgres.log"), "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    if not (BIN / "initdb").exists():
        tools.missing(f"PostgreSQL's initdb is not in {BIN} (apt-get install -y postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="pta-outage-"))
    database = PrivatePostgres(folder)
    try:
        database.init()
        database.start()
        yield database
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            database.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


async def _sign_up(url: str) -> dict[str, dict[str, str]]:
    settings = Settings(database_url=url, secret_key=SECRET)
    engine = make_engine(url, settings, pool_size=1)
    headers: dict[str, dict[str, str]] = {}
    try:
        async with engine.begin() as conn:
            for role in ("caseworker", "supervisor"):
                data = UserCreate(username=f"outage_{role}", password="x" * 16, role=role)
                row = await users.create_user(SqlaDb(conn), users.OPERATOR, data, datetime.now(UTC))
                token = security.create_token(
                    user_id=row["id"], role=role, generation=0, key=SECRET,
                    now=datetime.now(UTC), minutes=30,
                )  # fmt: skip
                headers[role] = {"Authorization": f"Bearer {token}"}
    finally:
        await engine.dispose()
    return headers


@dataclass
class Ledger:
    """What the clients were told, per case."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    created: set[str] = field(default_factory=set)
    writes_ok: dict[str, int] = field(default_factory=dict)
    #: (status, seconds, content type) of every answer
    answers: list[tuple[int, float, str]] = field(default_factory=list)
    #: answers that never came (a transport error or a client timeout)
    lost: list[str] = field(default_factory=list)


#: the writes a case goes through, round and round: (who, what)
CYCLE: list[tuple[str, dict[str, Any]]] = [
    ("caseworker", {"action": "start_assessment"}),
    ("caseworker", {"patch": {"processing_priority": "emergency"}}),
    ("caseworker", {"action": "request_review"}),
    ("supervisor", {"action": "return_to_assessment", "reason": "redo"}),
    ("caseworker", {"action": "request_review"}),
]


def load(
    base: str, headers: dict[str, dict[str, str]], ledger: Ledger, stop: threading.Event
) -> None:
    """Create a case, then take it round the cycle; after any failed write start a new one."""
    case: dict[str, Any] | None = None
    step = 0
    with httpx.Client(base_url=base, timeout=ANSWER_WITHIN + 5) as http:
        while not stop.is_set():
            started = time.monotonic()
            try:
                if case is None:
                    response = http.post(
                        "/api/v1/cases", json=case_body(), headers=headers["caseworker"]
                    )
                else:
                    who, what = CYCLE[step % len(CYCLE)]
                    write = {**headers[who], "If-Match": f'"{case["version"]}"'}
                    if "patch" in what:
                        response = http.patch(
                            f"/api/v1/cases/{case['id']}", json=what["patch"], headers=write
                        )
                    else:
                        response = http.post(
                            f"/api/v1/cases/{case['id']}/transitions", json=what, headers=write
                        )
            except httpx.HTTPError as error:
                with ledger.lock:
                    ledger.lost.append(type(error).__name__)
                case = None
                time.sleep(0.05)
                continue
            took = time.monotonic() - started
            with ledger.lock:
                ledger.answers.append(
                    (response.status_code, took, response.headers.get("content-type", ""))
                )
                if response.status_code == 201:
                    case = response.json()
                    ledger.created.add(case["id"])
                    ledger.writes_ok[case["id"]] = 0
                    step = 0
                elif response.status_code == 200 and case is not None:
                    ledger.writes_ok[case["id"]] += 1
                    case = response.json()
                    step += 1
                else:
                    case = None
            if not response.is_success:
                time.sleep(0.05)


def wait_until(check: Any, within: float) -> float:
    """Seconds until ``check()`` is true; fails after ``within``."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.1)


def answers(server: LiveServer, path: str, status: int) -> bool:
    try:
        return httpx.get(server.url + path, timeout=ANSWER_WITHIN).status_code == status
    except httpx.HTTPError:
        return False


async def test_the_service_rides_out_a_database_outage(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    server = start_server(
        postgres.url, tmp_path / "serve", workers=1, extra_env={"PTA_POOL_SIZE": "5"}
    )
    try:
        headers = await _sign_up(postgres.url)
        ledger, stop = Ledger(), threading.Event()
        threads = [
            threading.Thread(target=load, args=(server.url, headers, ledger, stop))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        try:
            await asyncio.sleep(1.5)
            for mode in ("immediate", "fast"):
                await asyncio.to_thread(postgres.stop, mode)
                down_since = len(ledger.answers)
                readyz = await asyncio.to_thread(
                    httpx.get, f"{server.url}/readyz", timeout=ANSWER_WITHIN + 1
                )
                assert readyz.status_code == 503, readyz.text
                assert readyz.headers["content-type"] == "application/problem+json"
                await asyncio.sleep(2.5)  # the load keeps writing into the outage
                during = ledger.answers[down_since:]
                assert any(status == 503 for status, _, _ in during), during
                for status, _took, content_type in during:
                    assert status in (200, 201, 503), during  # 2xx: answered just before
                    if status == 503:
                        assert content_type == "application/problem+json"
                probe = await asyncio.to_thread(
                    httpx.post,
                    f"{server.url}/api/v1/cases",
                    json=case_body(),
                    headers=headers["caseworker"],
                    timeout=ANSWER_WITHIN + 1,
                )
                assert probe.status_code == 503 and probe.json()["code"] == "service_unavailable"
                assert "Retry-After" in probe.headers
                await asyncio.to_thread(postgres.start)
                back_since = len(ledger.answers)
                await asyncio.to_thread(
                    wait_until, lambda: answers(server, "/readyz", 200), RECOVER_WITHIN
                )

                def writes_again(since: int = back_since) -> bool:
                    return any(s in (200, 201) for s, _, _ in ledger.answers[since:])

                await asyncio.to_thread(wait_until, writes_again, RECOVER_WITHIN)
                await asyncio.sleep(1.5)
        finally:
            stop.set()
            for thread in threads:
                await asyncio.to_thread(thread.join, 30)
        assert server.process.poll() is None, "the same process served throughout"
    finally:
        server.stop()

    slow = [(s, round(t, 2)) for s, t, _ in ledger.answers if t > ANSWER_WITHIN]
    assert not slow, f"answers slower than {ANSWER_WITHIN} s: {slow}"
    errors = [e for e in server.entries() if e.get("level") == "error"]
    assert not [s for s, _, _ in ledger.answers if s >= 500 and s != 503], errors
    assert not ledger.lost, f"requests that got no answer: {ledger.lost}"
    assert len(ledger.created) >= 3
    await _the_database_holds_what_the_clients_were_told(postgres.url, ledger)


async def _the_database_holds_what_the_clients_were_told(url: str, ledger: Ledger) -> None:
    engine = make_engine(url, Settings(database_url=url, secret_key=SECRET), pool_size=1)
    try:
        async with engine.connect() as conn:
            cases = {
                str(row[0]): row[1]
                for row in await conn.execute(text("SELECT id, version FROM cases"))
            }
            events = {
                str(row[0]): row[1]
                for row in await conn.execute(
                    text("SELECT case_id, count(*) FROM case_events GROUP BY case_id")
                )
            }
    finally:
        await engine.dispose()
    assert set(cases) == ledger.created, "a case exists if and only if its creation got 201"
    for case_id, version in cases.items():
        told = 1 + ledger.writes_ok[case_id]
        assert events.get(case_id) == told, (case_id, events.get(case_id), told)
        assert version == told, (case_id, version, told)
