"""Two writers with one version: exactly one wins (api.md "Concurrency"), and simultaneous
requests with one Idempotency-Key have one effect.

Here: concurrent requests through the in-process app (asyncio.gather): the app's engine gives
each request its own pooled connection, so on PostgreSQL these are separate sessions and on
SQLite separate aiosqlite connections, each in its own thread. The same races against a real
two-worker ``pta serve`` from OS threads are in tests/test_races.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.factories import Factory, member
from tests.lifecycle_helpers import (
    IN_TRANSIT,
    REVIEW,
    SUBMIT_USA,
    Driver,
    make_cast,
    problem,
    submission,
)

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
