"""Idempotency-Key on POST /cases and POST /cases/{id}/transitions (api.md, issue 3): per user,
method and path, 24 hours in the database; the first 2xx answer is replayed, another body with
the same key is 422 ``idempotency_key_reused``, a failure is not stored, and simultaneous
requests with one key have one effect."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import IdempotencyKey
from tests.factories import Factory, TestUser, case_body
from tests.lifecycle_helpers import (
    ACCEPT,
    IN_TRANSIT,
    REQUEST_CRI,
    SUBMIT_USA,
    Driver,
    count_cases,
    days,
    etag_version,
    make_cast,
    problem,
)

REPLAYED = ("etag", "location", "content-type")


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


async def create(
    client: httpx.AsyncClient, user: TestUser, key: str | None, body: Any = None, **over: Any
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    content = body if isinstance(body, bytes) else json.dumps(body or case_body(**over)).encode()
    headers["Content-Type"] = "application/json"
    return await client.post("/api/v1/cases", content=content, headers=headers)


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    for name in REPLAYED:
        assert again.headers.get(name) == first.headers.get(name), name


async def list_ids(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    response = await client.get("/api/v1/cases", headers=user.headers)
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


# POST /cases ---------------------------------------------------------------------------------
async def test_create_replays_the_first_answer(drive: Driver, engine: AsyncEngine) -> None:
    client, worker = drive.client, drive.cast.worker
    body = case_body(identified_at=days(-3))
    first = await create(client, worker, "create-1", body)
    assert first.status_code == 201, first.text
    assert first.headers["Location"].endswith(f"/api/v1/cases/{first.json()['id']}")
    assert etag_version(first) == 1

    again = await create(client, worker, "create-1", body)
    same_answer(first, again)
    # The same JSON written differently is the same request.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    same_answer(first, await create(client, worker, "create-1", reordered))

    assert await count_cases(engine) == 1
    assert await list_ids(client, worker) == [first.json()["id"]]
    assert [e["action"] for e in await drive.events(first.json()["id"])] == ["create"]


async def test_create_with_another_body_is_refused(drive: Driver, engine: AsyncEngine) -> None:
    client, worker = drive.client, drive.cast.worker
    first = await create(client, worker, "create-2", case_body())
    assert first.status_code == 201
    other = await create(client, worker, "create-2", case_body(processing_priority="normal"))
    problem(other, 422, "idempotency_key_reused")
    # The key is looked at before the body is validated.
    invalid = await create(client, worker, "create-2", case_body(status="closed"))
    problem(invalid, 422, "idempotency_key_reused")
    garbage = await create(client, worker, "create-2", b"{not json")
    problem(garbage, 422, "idempotency_key_reused")
    assert await count_cases(engine) == 1
    # The first answer is still the one replayed.
    same_answer(first, await create(client, worker, "create-2", case_body()))


async def test_keys_belong_to_one_user(drive: Driver, engine: AsyncEngine) -> None:
    client, c = drive.client, drive.cast
    mine = await create(client, c.worker, "shared-key", case_body())
    theirs = await create(client, c.boss, "shared-key", case_body())
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert await count_cases(engine) == 2
    # Without a key every POST is a new case.
    await create(client, c.worker, None, case_body())
    await create(client, c.worker, None, case_body())
    assert await count_cases(engine) == 4


async def test_a_failed_create_is_not_stored(drive: Driver, engine: AsyncEngine) -> None:
    client, worker = drive.client, drive.cast.worker
    bad = await create(client, worker, "create-3", case_body(members=[]))
    problem(bad, 422, "validation_error")
    # A retry with a corrected body is processed afresh (not "key reused").
    good = await create(client, worker, "create-3", case_body())
    assert good.status_code == 201, good.text
    # A role that may not create gets 403, and that is not stored either.
    officer = drive.cast.usa
    problem(await create(client, officer, "create-4", case_body()), 403, "forbidden")
    assert await count_cases(engine) == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\tkey"])
async def test_invalid_keys(drive: Driver, engine: AsyncEngine, key: str) -> None:
    response = await create(drive.client, drive.cast.worker, key, case_body())
    problem(response, 422, "validation_error")
    assert await count_cases(engine) == 0


async def test_keys_are_kept_24_hours(drive: Driver, engine: AsyncEngine) -> None:
    client, worker = drive.client, drive.cast.worker
    first = await create(client, worker, "create-old", case_body())
    assert first.status_code == 201
    async with engine.begin() as conn:  # as if the first request was made 23 h ago
        await conn.execute(
            update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=23))
        )
    same_answer(first, await create(client, worker, "create-old", case_body()))
    assert await count_cases(engine) == 1
    async with engine.begin() as conn:  # ... or 25 h ago: forgotten
        await conn.execute(
            update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    later = await create(client, worker, "create-old", case_body())
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert await count_cases(engine) == 2
    # And the new answer is the one kept from now on.
    same_answer(later, await create(client, worker, "create-old", case_body()))


# Transitions ---------------------------------------------------------------------------------
async def test_transition_replay_changes_nothing(drive: Driver) -> None:
    c = drive.cast
    case = await drive.get((await drive.new_case())["id"])
    first = await drive.post(c.worker, case["id"], "start_assessment", 1, key="t-1")
    assert first.status_code == 200 and etag_version(first) == 2

    again = await drive.post(c.worker, case["id"], "start_assessment", 1, key="t-1")
    same_answer(first, again)
    # The case moves on; the replay still answers the first answer's status and headers and
    # changes nothing, before If-Match is looked at (the stored answer is version 2, the case
    # is now at 3) — with the case as it is now (replays see today's rules).
    moved = await drive.act(c.worker, {"id": case["id"], "version": 2}, "request_review")
    assert moved["version"] == 3
    for if_match in (1, None):
        again = await drive.post(c.worker, case["id"], "start_assessment", if_match, key="t-1")
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        for name in REPLAYED:
            assert again.headers.get(name) == first.headers.get(name), name
        assert again.json() == moved
    now = await drive.get(case["id"])
    assert (now["status"], now["version"]) == ("pending_review", 3)
    assert [e["action"] for e in await drive.events(case["id"])] == [
        "create",
        "start_assessment",
        "request_review",
    ]

    # Another body with the key: 422, nothing changes.
    reused = await drive.post(c.worker, case["id"], "request_review", 3, key="t-1")
    problem(reused, 422, "idempotency_key_reused")
    # The key is per path: the same key on another case is another request.
    other = await drive.get((await drive.new_case())["id"])
    response = await drive.post(c.worker, other["id"], "start_assessment", 1, key="t-1")
    assert response.status_code == 200 and response.json()["id"] == other["id"]
    assert await drive.get(case["id"]) == now


async def test_no_content_answer_is_replayed(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, REQUEST_CRI])
    first = await drive.post(
        c.cri, case["id"], "refuse_transit", case["version"], key="refuse", reason="Full"
    )
    assert first.status_code == 204 and not first.content
    again = await drive.post(
        c.cri, case["id"], "refuse_transit", case["version"], key="refuse", reason="Full"
    )
    assert again.status_code == 204 and not again.content
    assert again.headers["ETag"] == first.headers["ETag"]
    assert [e["action"] for e in await drive.events(case["id"])].count("refuse_transit") == 1


async def test_a_failed_transition_is_not_stored(drive: Driver) -> None:
    c = drive.cast
    case = await drive.run(await drive.new_case(), IN_TRANSIT)
    depart = {"departed_at": days(0)}
    # 409: not accepted yet. The retry is looked at afresh, and fails again.
    for _ in range(2):
        response = await drive.post(
            c.worker, case["id"], "record_departure", case["version"], key="dep", **depart
        )
        problem(response, 409, "invalid_transition")
    # 412: a stale version. The retry with the right version is processed.
    case = await drive.run(case, [ACCEPT])
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"] - 1, key="dep", **depart
    )
    problem(response, 412, "precondition_failed")
    response = await drive.post(
        c.worker, case["id"], "record_departure", case["version"], key="dep", **depart
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "departed"
    # From now on the success is replayed.
    same_answer(
        response,
        await drive.post(
            c.worker, case["id"], "record_departure", case["version"], key="dep", **depart
        ),
    )
    assert [e["action"] for e in await drive.events(case["id"])].count("record_departure") == 1


async def test_a_key_reused_on_create_and_transition_are_different_requests(
    drive: Driver, engine: AsyncEngine
) -> None:
    client, worker = drive.client, drive.cast.worker
    created = await create(client, worker, "same", case_body())
    assert created.status_code == 201
    case = created.json()
    response = await drive.post(worker, case["id"], "start_assessment", 1, key="same")
    assert response.status_code == 200
    assert await count_cases(engine) == 1


# Simultaneous requests with one key ---------------------------------------------------------
async def test_simultaneous_creates_with_one_key_make_one_case(
    drive: Driver, engine: AsyncEngine
) -> None:
    client, worker = drive.client, drive.cast.worker
    body = case_body()
    responses = await asyncio.gather(*(create(client, worker, "burst", body) for _ in range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert await count_cases(engine) == 1


async def test_simultaneous_transitions_with_one_key_have_one_effect(drive: Driver) -> None:
    c = drive.cast
    case = await drive.get((await drive.new_case())["id"])
    responses = await asyncio.gather(
        *(drive.post(c.worker, case["id"], "start_assessment", 1, key="burst") for _ in range(8))
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    now = await drive.get(case["id"])
    assert now["version"] == 2
    assert [e["action"] for e in await drive.events(case["id"])] == ["create", "start_assessment"]
