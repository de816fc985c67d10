"""Sign-in hardening (api.md "Auth and users"; issue 4, part 5): one 401 answer and a similar
time for a wrong password and an unknown user; 5 failures per username and client within 15
minutes lock that pair out (429 + Retry-After), counted in the database; X-Forwarded-For is
believed only from a trusted proxy."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from passlib.context import CryptContext
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app import security
from app.config import Settings
from app.main import create_app
from app.models import SignInFailure, User
from tests.factories import PASSWORD, Factory

TOKEN = "/api/v1/auth/token"
PEER = "203.0.113.7"  # the address the test client connects from (conftest)


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post(
        TOKEN, data={"username": username, "password": password}, headers=headers
    )


@asynccontextmanager
async def other_client(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
        yield http


@asynccontextmanager
async def second_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Another worker or replica of the service over the same database."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def failures(engine: AsyncEngine, username: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).where(SignInFailure.username == username)
        return int((await conn.execute(query.select_from(SignInFailure))).scalar_one())


def same_problem(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    for header in ("content-type", "www-authenticate", "content-length"):
        assert a.headers.get(header) == b.headers.get(header), header


async def test_a_right_password_gets_a_bearer_token(
    client: httpx.AsyncClient, make: Factory
) -> None:
    user = await make.user("transit_officer", "CRI")
    response = await sign_in(client, user.username, PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 30 * 60)
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {
        "id": str(user.id),
        "username": user.username,
        "role": "transit_officer",
        "country": "CRI",
        "active": True,
    }


async def test_wrong_password_unknown_user_and_inactive_user_get_one_answer(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    user = await make.user("caseworker")
    gone = await make.user("caseworker")
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == gone.id).values(active=False))
    wrong = await sign_in(client, user.username, "not-the-password-at-all")
    unknown = await sign_in(client, "nobody_by_this_name", "not-the-password-at-all")
    inactive = await sign_in(client, gone.username, PASSWORD)
    same_problem(wrong, unknown)
    same_problem(wrong, inactive)
    assert wrong.json()["code"] == "unauthorized"
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert user.username not in wrong.text


class SpyContext:
    """Records which hashes a password was checked against."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.checked = inner, list[Any]()

    def verify(self, password: str, password_hash: str) -> Any:
        self.checked.append(password_hash)
        return self.inner.verify(password, password_hash)

    def hash(self, password: str) -> Any:
        return self.inner.hash(password)


async def test_an_unknown_user_costs_a_hash_check_too(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make.user("caseworker")
    spy = SpyContext(security._context)
    monkeypatch.setattr(security, "_context", spy)
    await sign_in(client, "nobody_by_this_name", "not-the-password-at-all")
    assert spy.checked == [security._dummy_hash()], "checked against the dummy hash"
    await sign_in(client, user.username, "not-the-password-at-all")
    assert len(spy.checked) == 2 and spy.checked[1].startswith("$argon2")


@pytest.fixture
def real_cost_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 with a cost that dwarfs the rest of a sign-in, so timings can be compared."""
    context = CryptContext(
        schemes=["argon2"], argon2__memory_cost=32768, argon2__rounds=2, argon2__parallelism=1
    )
    monkeypatch.setattr(security, "_context", context)
    security._dummy_hash.cache_clear()
    yield
    security._dummy_hash.cache_clear()


@pytest.mark.usefixtures("real_cost_hashing")
async def test_an_unknown_user_takes_about_as_long_as_a_wrong_password(
    client: httpx.AsyncClient, make: Factory
) -> None:
    user = await make.user("caseworker")
    await sign_in(client, "warm_up_the_dummy_hash", "x" * 12)

    async def timed(username: str) -> float:
        started = time.perf_counter()
        response = await sign_in(client, username, "not-the-password-at-all")
        assert response.status_code == 401
        return time.perf_counter() - started

    # Alternated, and the fastest of each: a busy machine only ever adds time.
    pairs = [(await timed(user.username), await timed(f"nobody_{n}")) for n in range(4)]
    wrong = min(pair[0] for pair in pairs)
    unknown = min(pair[1] for pair in pairs)
    assert unknown / wrong == pytest.approx(1, abs=0.6), (unknown, wrong)


async def test_five_failures_lock_out_that_username_from_that_client(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine, app: FastAPI
) -> None:
    user = await make.user("supervisor")
    other = await make.user("supervisor")
    for _ in range(5):
        assert (await sign_in(client, user.username, "wrong-password-here")).status_code == 401
    locked = await sign_in(client, user.username, PASSWORD)
    assert locked.status_code == 429, "even with the right password"
    assert locked.json()["code"] == "rate_limited"
    assert locked.headers["content-type"] == "application/problem+json"
    assert 870 <= int(locked.headers["Retry-After"]) <= 900
    for _ in range(3):
        assert (await sign_in(client, user.username, "wrong-password-here")).status_code == 429
    assert await failures(engine, user.username) == 5, "429 answers are not counted"

    # Another username from this client, and this username from another client, still work.
    assert (await sign_in(client, other.username, PASSWORD)).status_code == 200
    async with other_client(app, "198.51.100.23") as elsewhere:
        assert (await sign_in(elsewhere, user.username, PASSWORD)).status_code == 200

    # The count lives in the database: another worker over it locks out the same pair.
    async with second_app(app.state.settings) as replica, other_client(replica, PEER) as same:
        assert (await sign_in(same, user.username, PASSWORD)).status_code == 429


async def test_parallel_guesses_get_no_more_than_five_tries(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    """Guesses sent all at once are counted as if one after another (on PostgreSQL they really
    run at the same time): five wrong answers, then 429s."""
    user = await make.user("caseworker")
    answers = await asyncio.gather(
        *(sign_in(client, user.username, f"wrong-password-{n:02d}") for n in range(12))
    )
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [401] * 5 + [429] * 7, statuses
    assert await failures(engine, user.username) == 5


async def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    user = await make.user("caseworker")
    now = datetime.now(UTC)

    async def fail_at(*minutes_ago: float) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                insert(SignInFailure),
                [
                    {"username": user.username, "client": PEER, "at": now - timedelta(minutes=m)}
                    for m in minutes_ago
                ],
            )

    await fail_at(20, 16, 15.5)  # outside the 15-minute window: not counted
    await fail_at(14, 9, 5, 2)
    assert (await sign_in(client, user.username, PASSWORD)).status_code == 200, "4 in window"
    await fail_at(1)
    locked = await sign_in(client, user.username, PASSWORD)
    assert locked.status_code == 429
    assert 55 <= int(locked.headers["Retry-After"]) <= 61, "the failure 14 minutes ago"


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    client: httpx.AsyncClient, make: Factory, settings: Settings
) -> None:
    user = await make.user("caseworker")
    wrong = "wrong-password-here"

    # No trusted proxy (the default): the header is ignored, the connection is the client.
    for n in range(5):
        forwarded = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert (await sign_in(client, user.username, wrong, **forwarded)).status_code == 401
    forwarded = {"X-Forwarded-For": "198.51.100.99"}
    assert (await sign_in(client, user.username, PASSWORD, **forwarded)).status_code == 429

    proxied = settings.model_copy(
        update={"trusted_proxies": [ipaddress.ip_network("192.0.2.0/24")]}
    )
    async with second_app(proxied) as app:
        async with other_client(app, "192.0.2.10") as proxy:
            # Behind the proxy, each X-Forwarded-For client has its own count.
            first = {"X-Forwarded-For": "198.51.100.1"}
            for _ in range(5):
                assert (await sign_in(proxy, user.username, wrong, **first)).status_code == 401
            assert (await sign_in(proxy, user.username, PASSWORD, **first)).status_code == 429
            spoofed = {"X-Forwarded-For": "198.51.100.1, 198.51.100.2"}
            assert (await sign_in(proxy, user.username, PASSWORD, **spoofed)).status_code == 200
            second = {"X-Forwarded-For": "198.51.100.2"}
            assert (await sign_in(proxy, user.username, PASSWORD, **second)).status_code == 200
        async with other_client(app, "198.51.100.50") as direct:
            # A client that is not a proxy cannot pick its own address with the header.
            for _ in range(5):
                response = await sign_in(direct, user.username, wrong, **second)
                assert response.status_code == 401
            assert (await sign_in(direct, user.username, PASSWORD, **first)).status_code == 429
        async with other_client(app, "192.0.2.10") as proxy:
            assert (await sign_in(proxy, user.username, PASSWORD, **second)).status_code == 200


async def test_sign_in_form_is_validated(client: httpx.AsyncClient, make: Factory) -> None:
    user = await make.user("caseworker")
    response = await client.post(TOKEN, data={"username": user.username})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    response = await client.post(TOKEN, json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 422
