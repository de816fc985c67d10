"""Races against a real ``pta serve --workers 2`` on the test database (PostgreSQL in CI, where
the two processes share nothing but the database): 50 writers on one case, 30 creations with
one Idempotency-Key, 30 creations across two origins and two years.

tests/test_concurrency.py covers the same rules with 8–12 writers; these push the numbers up
and add the reference sequence: ``PTA-<origin>-<year>-<n>``, numbered 1..N per origin and year,
unique and without gaps once every creation has committed.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.factories import Factory, case_body, member
from tests.lifecycle_helpers import (
    IN_TRANSIT,
    REVIEW,
    Driver,
    make_cast,
    submission,
)
from tests.live_server import LiveServer, start_server

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

REFERENCE = re.compile(r"^PTA-([A-Z]{3})-(\d{4})-(\d{6})$")


@pytest.fixture(scope="module")
def server(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(
        migrated.database_url,
        tmp_path_factory.mktemp("races"),
        workers=2,
        extra_env={"PTA_LOG_LEVEL": "WARNING", "PTA_POOL_SIZE": "12"},
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def at_once(n: int, request: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """``request`` from ``n`` OS threads, each with its own connection, released together."""
    barrier = threading.Barrier(n)

    def work(i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return request(http, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(work, range(n)))


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_fifty_writers_on_one_case_one_wins(drive: Driver, server: LiveServer) -> None:
    """25 PATCHes and 25 transitions of five kinds, by five users, all at one version."""
    c = drive.cast
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    before = await drive.events(case["id"])
    v = case["version"]
    url = f"{server.url}/api/v1/cases/{case['id']}"
    transitions = [
        (c.boss, {"action": "close", "reason": "lost_contact"}),
        (c.boss2, {"action": "withdraw_submission", "reason": "error"}),
        (c.usa, {"action": "decide", "decision": "accepted"}),
        (c.cri, {"action": "extend_transit", "authorised_until": "2099-01-01"}),
        (c.usa, {"action": "decide", "decision": "on_hold", "reason": "Security check"}),
    ]

    def write(http: httpx.Client, i: int) -> httpx.Response:
        if i % 2:  # the set of members is fixed while submitted: correct their fields
            members = [{**m, "given_name": f"Racer{i}"} for m in case["members"]]
            body = {"members": members, "processing_priority": "normal"}
            return http.patch(url, json=body, headers={**c.worker.headers, "If-Match": f'"{v}"'})
        user, action = transitions[(i // 2) % len(transitions)]
        headers = {**user.headers, "If-Match": f'"{v}"'}
        return http.post(f"{url}/transitions", json=action, headers=headers)

    responses = await asyncio.to_thread(at_once, 50, write)
    assert statuses(responses) == [200] + [412] * 49, [r.text for r in responses if r.is_error]
    for response in responses:
        if response.status_code == 412:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "precondition_failed"
    (winner,) = [r for r in responses if r.status_code == 200]
    now = await drive.get(case["id"])
    assert now["version"] == v + 1 == winner.json()["version"]
    after = await drive.events(case["id"])
    assert len(after) == len(before) + 1, "one event for the one winner"
    assert after[-1]["to_status"] == now["status"]
    if after[-1]["action"] == "update":
        assert now["members"] == winner.json()["members"]


async def test_thirty_creations_with_one_key_make_one_case(
    drive: Driver, server: LiveServer, engine: AsyncEngine
) -> None:
    worker = drive.cast.worker
    body = case_body(origin_country="HND")

    def create(http: httpx.Client, _i: int) -> httpx.Response:
        return http.post(
            f"{server.url}/api/v1/cases",
            json=body,
            headers={**worker.headers, "Idempotency-Key": "races-one-key"},
        )

    responses = await asyncio.to_thread(at_once, 30, create)
    assert statuses(responses) == [201] * 30, [r.text for r in responses if r.is_error]
    assert len({r.content for r in responses}) == 1
    assert len({r.headers["Location"] for r in responses}) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one() == 1
        counter = await conn.execute(text("SELECT last_number FROM reference_counters"))
        assert [row[0] for row in counter] == [1], "the key's losers took no number"
    assert responses[0].json()["reference"].endswith("-000001")


async def test_thirty_transitions_with_one_key_take_one_step(
    drive: Driver, server: LiveServer
) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), REVIEW)
    body = {"action": "submit", **submission("CAN")}

    def submit(http: httpx.Client, _i: int) -> httpx.Response:
        return http.post(
            f"{server.url}/api/v1/cases/{case['id']}/transitions",
            json=body,
            headers={
                **c.boss.headers,
                "If-Match": f'"{case["version"]}"',
                "Idempotency-Key": "races-submit",
            },
        )

    responses = await asyncio.to_thread(at_once, 30, submit)
    assert statuses(responses) == [200] * 30, [r.text for r in responses if r.is_error]
    assert len({r.content for r in responses}) == 1
    now = await drive.get(case["id"])
    assert now["version"] == case["version"] + 1 and len(now["submissions"]) == 1
    assert [e["action"] for e in await drive.events(case["id"])].count("submit") == 1


async def test_thirty_creations_number_references_without_gaps(
    drive: Driver, server: LiveServer, engine: AsyncEngine
) -> None:
    """Two origins, this year and last: each (origin, year) numbered 1..N, nothing repeated,
    nothing skipped — while a few requests that are refused (an officer, an invalid body) run
    among them and take no number."""
    worker, officer = drive.cast.worker, drive.cast.usa
    this_year = datetime.now(UTC).year
    plan = [("SLV" if i % 2 else "HND", this_year - (i % 3 == 0)) for i in range(30)]

    def create(http: httpx.Client, i: int) -> httpx.Response:
        if i >= 30:  # refused ones, interleaved with the rest
            who = officer if i % 2 else worker
            body = case_body() if i % 2 else case_body(members=[])
            return http.post(f"{server.url}/api/v1/cases", json=body, headers=who.headers)
        origin, year = plan[i]
        body = case_body(origin_country=origin, identified_at=f"{year}-01-0{1 + i % 9}")
        return http.post(f"{server.url}/api/v1/cases", json=body, headers=worker.headers)

    responses = await asyncio.to_thread(at_once, 36, create)
    made, refused = responses[:30], responses[30:]
    assert [r.status_code for r in made] == [201] * 30, [r.text for r in made if r.is_error]
    assert sorted(r.status_code for r in refused) == [403] * 3 + [422] * 3
    numbers: dict[tuple[str, int], list[int]] = defaultdict(list)
    for response, (origin, year) in zip(made, plan, strict=True):
        match = REFERENCE.match(response.json()["reference"])
        assert match, response.json()["reference"]
        assert (match[1], int(match[2])) == (origin, year)
        numbers[(origin, year)].append(int(match[3]))
    for key, got in numbers.items():
        assert sorted(got) == list(range(1, len(got) + 1)), (key, sorted(got))
    # the database agrees: every reference unique, counters at N
    async with engine.connect() as conn:
        stored = [row[0] for row in await conn.execute(text("SELECT reference FROM cases"))]
        counters = {
            (row[0], row[1]): row[2]
            for row in await conn.execute(
                text("SELECT origin_country, year, last_number FROM reference_counters")
            )
        }
    assert len(stored) == len(set(stored)) == 30
    assert counters == {key: len(got) for key, got in numbers.items()}


async def test_two_supervisors_split_one_case_at_once(
    drive: Driver, server: LiveServer, engine: AsyncEngine
) -> None:
    """Ten split_case requests at one version, from two supervisors: one new case, the
    members moved once, one split_case event, one reference number taken."""
    c = drive.cast
    household = [
        member(),
        member(is_principal=False, given_name="Jorge", relationship="spouse"),
        member(is_principal=False, given_name="Lucia", relationship="child"),
        member(is_principal=False, given_name="Pablo", relationship="child"),
    ]
    case = await drive.run(await drive.new_case(members=household), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    await drive.act(c.usa, case, "decide", decision="accepted", accepted_members=ids[:2])
    case = await drive.get(case["id"])
    url = f"{server.url}/api/v1/cases/{case['id']}/transitions"
    body = {"action": "split_case", "members": ids[2:], "principal": ids[2], "reason": "split"}

    def split(http: httpx.Client, i: int) -> httpx.Response:
        user = c.boss if i % 2 else c.boss2
        headers = {**user.headers, "If-Match": f'"{case["version"]}"'}
        return http.post(url, json=body, headers=headers)

    responses = await asyncio.to_thread(at_once, 10, split)
    assert statuses(responses) == [200] + [412] * 9, [r.text for r in responses if r.is_error]
    (winner,) = [r for r in responses if r.status_code == 200]
    new_id = winner.headers["Location"].rsplit("/", 1)[1]
    assert winner.json()["split_into"] == [new_id]
    now = await drive.get(case["id"])
    assert now["version"] == case["version"] + 1 and [m["id"] for m in now["members"]] == ids[:2]
    assert [e["action"] for e in await drive.events(case["id"])].count("split_case") == 1
    new = await drive.get(new_id)
    assert sorted(m["id"] for m in new["members"]) == sorted(ids[2:])
    assert [e["action"] for e in await drive.events(new_id)] == ["create"]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one() == 2
        assert (await conn.execute(text("SELECT count(*) FROM members"))).scalar_one() == 4
        counter = await conn.execute(text("SELECT last_number FROM reference_counters"))
        assert [row[0] for row in counter] == [2], "the losers took no reference number"
