"""Two writers with one version: exactly one wins (api.md "Concurrency"), and simultaneous
requests with one Idempotency-Key have one effect.

Two kinds of real concurrency:
- concurrent requests through the in-process app (asyncio.gather): the app's engine gives each
  request its own pooled connection, so on PostgreSQL these are separate sessions and on SQLite
  separate aiosqlite connections, each in its own thread;
- OS threads hitting a real ``pta serve`` subprocess with two worker processes (on this port
  range), so the database's own locking between processes is exercised — on SQLite the file lock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.conftest import SECRET
from tests.factories import Factory, TestUser, case_body, member
from tests.lifecycle_helpers import (
    IN_TRANSIT,
    REVIEW,
    SUBMIT_USA,
    Driver,
    count_cases,
    make_cast,
    problem,
    submission,
)
from tests.live_server import free_port

PORTS = range(18100, 18150)
N = 8


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def outcome(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def one_winner(responses: list[httpx.Response], ok: int = 200) -> httpx.Response:
    """Exactly one 2xx; every other writer was told its version is stale (412)."""
    codes = outcome(responses)
    assert codes == sorted([ok] + [412] * (len(responses) - 1)), [r.text for r in responses]
    for response in responses:
        if response.status_code == 412:
            problem(response, 412, "precondition_failed")
    (winner,) = [r for r in responses if r.status_code == ok]
    return winner


# In-process, one connection per request -----------------------------------------------------
async def test_concurrent_transitions_one_winner(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    events = await drive.events(case["id"])
    v = case["version"]
    # Different legal actions at once, all at the same version.
    attempts = [
        attempt
        for _ in range(N // 4)
        for attempt in (
            drive.post(c.boss, case["id"], "close", v, reason="lost_contact"),
            drive.post(c.boss2, case["id"], "withdraw_submission", v, reason="error"),
            drive.post(c.usa, case["id"], "decide", v, decision="accepted"),
            drive.post(c.cri, case["id"], "extend_transit", v, authorised_until="2099-01-01"),
        )
    ]
    responses = list(await asyncio.gather(*attempts))
    assert len(responses) == N
    winner = one_winner(responses)
    now = await drive.get(case["id"])
    assert now["version"] == v + 1 == winner.json()["version"]
    new = (await drive.events(case["id"]))[len(events) :]
    assert len(new) == 1
    assert now["status"] == new[0]["to_status"]


async def test_concurrent_identical_transitions_one_winner(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), REVIEW)
    responses = list(
        await asyncio.gather(
            *(
                drive.post(c.boss, case["id"], "submit", case["version"], **submission("USA"))
                for _ in range(N)
            )
        )
    )
    one_winner(responses)
    now = await drive.get(case["id"])
    assert len(now["submissions"]) == 1, "one submission, not one per writer"
    assert [e["action"] for e in await drive.events(case["id"])].count("submit") == 1


async def test_concurrent_patches_one_winner(drive: Driver) -> None:
    c = drive.cast
    case = await drive.get((await drive.new_case())["id"])

    def members(i: int) -> list[dict[str, Any]]:
        return [member(given_name=f"P{i}")] + [
            member(is_principal=False, given_name=f"C{i}-{k}", relationship="child")
            for k in range(i % 3)
        ]

    responses = list(
        await asyncio.gather(
            *(
                drive.patch(c.worker, case["id"], case["version"], members=members(i))
                for i in range(N)
            )
        )
    )
    winner = one_winner(responses)
    now = await drive.get(case["id"])
    assert now["version"] == case["version"] + 1
    assert now["members"] == winner.json()["members"], "the winner's members, whole"
    assert [e["action"] for e in await drive.events(case["id"])] == ["create", "update"]


async def test_patch_and_transition_race(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), SUBMIT_USA)
    v = case["version"]
    attempts = [
        attempt
        for _ in range(N // 2)
        for attempt in (
            drive.patch(c.worker, case["id"], v, processing_priority="emergency"),
            drive.post(c.boss, case["id"], "close", v, reason="other"),
        )
    ]
    responses = list(await asyncio.gather(*attempts))
    one_winner(responses)
    assert len(await drive.events(case["id"])) == v + 1


# Against a real server, from OS threads -----------------------------------------------------
@pytest.fixture(scope="module")
def server(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``pta serve`` with two worker processes on the test database."""
    port = free_port(PORTS)
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {
        **os.environ,
        "PTA_DATABASE_URL": migrated.database_url,
        "PTA_SECRET_KEY": SECRET,
        "PTA_LOG_LEVEL": "WARNING",
        "PTA_POOL_SIZE": "8",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pta serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def in_threads(
    n: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Run ``request`` from ``n`` OS threads, each with its own connection, released together."""
    barrier = threading.Barrier(n)

    def work(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:  # one client, one connection per thread
            barrier.wait()
            return request(http, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(work, range(n)))


def _transition(
    base: str, user: TestUser, case_id: str, version: int, body: dict[str, Any]
) -> Callable[[httpx.Client, int], httpx.Response]:
    def request(http: httpx.Client, _i: int) -> httpx.Response:
        return http.post(
            f"{base}/api/v1/cases/{case_id}/transitions",
            json=body,
            headers={**user.headers, "If-Match": f'"{version}"'},
        )

    return request


async def test_threads_against_a_server_one_winner(drive: Driver, server: str) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), REVIEW)
    v = case["version"]
    body = {"action": "submit", **submission("USA")}
    responses = await asyncio.to_thread(
        in_threads, 12, _transition(server, c.boss, case["id"], v, body)
    )
    one_winner(responses)
    now = await drive.get(case["id"])
    assert now["version"] == v + 1 and len(now["submissions"]) == 1
    assert [e["action"] for e in await drive.events(case["id"])].count("submit") == 1

    # PATCHes from threads, too.
    def patch(http: httpx.Client, i: int) -> httpx.Response:
        return http.patch(
            f"{server}/api/v1/cases/{case['id']}",
            json={"members": [member(given_name=f"T{i}")]},
            headers={**c.worker.headers, "If-Match": f'"{v + 1}"'},
        )

    responses = await asyncio.to_thread(in_threads, 12, patch)
    winner = one_winner(responses)
    now = await drive.get(case["id"])
    assert now["version"] == v + 2
    assert now["members"] == winner.json()["members"]
    assert [e["action"] for e in await drive.events(case["id"])].count("update") == 1


async def test_threads_against_a_server_one_key_one_case(
    drive: Driver, server: str, engine: AsyncEngine
) -> None:
    worker = drive.cast.worker
    body = case_body()

    def create(http: httpx.Client, _i: int) -> httpx.Response:
        return http.post(
            f"{server}/api/v1/cases",
            json=body,
            headers={**worker.headers, "Idempotency-Key": "threads"},
        )

    responses = await asyncio.to_thread(in_threads, 12, create)
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert len({r.headers["Location"] for r in responses}) == 1
    assert await count_cases(engine) == 1

    # The key lives in the database: this process's app replays what the server answered.
    replay = await drive.client.post(
        "/api/v1/cases", json=body, headers={**worker.headers, "Idempotency-Key": "threads"}
    )
    assert replay.status_code == 201 and replay.content == responses[0].content
    assert replay.headers["ETag"] == responses[0].headers["ETag"]


async def test_threads_against_a_server_one_key_one_transition(drive: Driver, server: str) -> None:
    c = drive.cast
    case = await drive.get((await drive.new_case())["id"])

    def start(http: httpx.Client, _i: int) -> httpx.Response:
        return http.post(
            f"{server}/api/v1/cases/{case['id']}/transitions",
            json={"action": "start_assessment"},
            headers={**c.worker.headers, "If-Match": '"1"', "Idempotency-Key": "go"},
        )

    responses = await asyncio.to_thread(in_threads, 12, start)
    assert [r.status_code for r in responses] == [200] * 12, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert [e["action"] for e in await drive.events(case["id"])] == ["create", "start_assessment"]
