"""Issue 19, items 2, 3 and 6: resource limits of a real ``pta serve`` (head size, head
timeout, concurrent requests, huge 422s), dates within 1900…2100, and HTTP hygiene — each as
a client sees it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from jose import jwt

from app.config import Settings
from app.security import ALGORITHM, AUDIENCE, ISSUER
from tests.common import assert_problem
from tests.conftest import SECRET
from tests.factories import Factory, case_body, member
from tests.live_server import LiveServer, start_server

pytestmark = pytest.mark.reliability
API = "/api/v1"


# A real server ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(
        migrated.database_url,
        tmp_path_factory.mktemp("hardening"),
        extra_env={"PTA_MAX_CONCURRENT_REQUESTS": "2"},
    )
    try:
        yield running
    finally:
        running.stop()


def address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def exchange(server: LiveServer, data: bytes, wait: float = 5) -> bytes:
    """Send ``data``, read until the server closes or ``wait`` passes."""
    with socket.create_connection(address(server), timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def problem_of(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, orjson.loads(body)


def test_a_head_over_32_kib_is_431_problem_json(server: LiveServer) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    status, headers, body = problem_of(exchange(server, big))
    assert status == 431 and headers["content-type"] == "application/problem+json"
    assert body["code"] == "headers_too_large" and body["status"] == 431
    fits = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 31_000
    assert exchange(server, fits + b"\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_a_malformed_request_is_400_problem_json(server: LiveServer) -> None:
    status, headers, body = problem_of(exchange(server, b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == 400 and headers["content-type"] == "application/problem+json"
    assert body["code"] == "validation_error"


def test_a_connection_without_a_whole_head_in_10_s_is_closed(server: LiveServer) -> None:
    closed_after: dict[str, float] = {}

    def drip(name: str, lines: list[bytes]) -> None:
        started = time.monotonic()
        with socket.create_connection(address(server), timeout=20) as sock:
            try:
                for line in lines:
                    sock.sendall(line)
                    sock.settimeout(3)
                    try:
                        if sock.recv(1) == b"":
                            break
                    except TimeoutError:
                        continue
                sock.settimeout(20)
                sock.recv(1)
            except OSError:
                pass
        closed_after[name] = time.monotonic() - started

    header_lines = [b"GET /healthz HTTP/1.1\r\n"] + [b"X-Drip: %d\r\n" % i for i in range(10)]
    threads = [
        threading.Thread(target=drip, args=("dripping", header_lines)),
        threading.Thread(target=drip, args=("silent", [])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert 9 <= closed_after["dripping"] <= 14, closed_after
    assert 9 <= closed_after["silent"] <= 14, closed_after


def test_requests_beyond_the_bound_are_503_with_retry_after(server: LiveServer) -> None:
    """Two requests whose bodies never finish hold both places of this worker (the server
    runs with PTA_MAX_CONCURRENT_REQUESTS=2); the third API request is refused at once."""
    head = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nuser"
    )
    holders = [socket.create_connection(address(server), timeout=10) for _ in range(2)]
    try:
        for sock in holders:
            sock.sendall(head)
        time.sleep(0.5)
        refused = httpx.get(server.url + f"{API}/me", timeout=5)
        assert_problem(refused, 503, "service_unavailable")
        assert refused.headers["Retry-After"] == "1"
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200  # not counted
    finally:
        for sock in holders:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(server.url + f"{API}/me", timeout=5).status_code == 401:
            return
        time.sleep(0.1)
    raise AssertionError("the places were not given back")


def test_a_body_of_90000_unknown_keys_is_a_short_422(server: LiveServer, make: Factory) -> None:
    token = make.token_for(make_user_id(server), "caseworker")
    body = orjson.dumps({f"k{i}": 1 for i in range(90_000)})
    assert len(body) < 1024 * 1024
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.monotonic()
    response = httpx.post(server.url + f"{API}/cases", content=body, headers=headers, timeout=10)
    assert time.monotonic() - started < 2
    problem = assert_problem(response, 422, "validation_error")
    assert len(response.content) < 10_000 and len(problem["errors"]) == 1
    # A body within the bound with 200 unknown keys: exactly 50 errors listed.
    many = orjson.dumps({**case_body(), **{f"k{i}": 1 for i in range(200)}})
    response = httpx.post(server.url + f"{API}/cases", content=many, headers=headers, timeout=10)
    problem = assert_problem(response, 422, "validation_error")
    assert len(problem["errors"]) == 50


def make_user_id(server: LiveServer) -> Any:
    """A caseworker created through the server's own command line (its database)."""
    import subprocess

    from tests.live_server import ROOT, pta_command

    done = subprocess.run(
        [
            *pta_command(),
            "users",
            "create",
            "hardening_worker",
            "--role",
            "caseworker",
            "--password-stdin",
        ],
        input=b"a-long-enough-password\n",
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        timeout=60,
    )
    if done.returncode != 0:  # already made by an earlier run of this module
        raise AssertionError(done.stderr.decode()[-2000:])
    import uuid

    return uuid.UUID(done.stdout.decode().strip().splitlines()[-1])


# Dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/reports/funnel", {"from": "0001-01-01"}),
        ("/reports/funnel", {"to": "9999-12-30"}),
        ("/reports/funnel", {"as_of": "2101-01-01"}),
        ("/cases", {"identified_from": "1899-12-31"}),
        ("/cases", {"identified_to": "9999-12-31"}),
        ("/cases", {"updated_since": "2100-12-31T23:00:00-23:00"}),  # 2101 in UTC
        ("/cases", {"updated_since": "9999-12-31T23:59:59-23:59"}),
        ("/cases", {"updated_since": "0001-01-01T00:00:00+23:59"}),
        ("/audit/access-log", {"from": "0001-01-01T00:00:00Z"}),
        ("/audit/access-log", {"to": "9999-12-31T23:59:59Z"}),
    ],
)
async def test_dates_outside_1900_2100_are_422_in_queries(
    client: httpx.AsyncClient, make: Factory, path: str, params: dict[str, str]
) -> None:
    boss = await make.user("supervisor")
    response = await client.get(API + path, params=params, headers=boss.headers)
    assert_problem(response, 422, "validation_error")


async def test_the_edges_of_the_range_are_accepted(
    client: httpx.AsyncClient, make: Factory
) -> None:
    boss = await make.user("supervisor")
    for path, params in [
        ("/reports/funnel", {"from": "1900-01-01", "to": "2100-12-31"}),
        ("/cases", {"updated_since": "1900-01-01T00:00:00Z"}),
        ("/audit/access-log", {"from": "1900-01-01T00:00:00Z", "to": "2100-12-31T23:59:59Z"}),
    ]:
        response = await client.get(API + path, params=params, headers=boss.headers)
        assert response.status_code == 200, (path, response.text)
    old = await client.post(
        f"{API}/cases",
        json=case_body(members=[member(date_of_birth="1900-01-01")]),
        headers=boss.headers,
    )
    assert old.status_code == 201 and old.json()["members"][0]["date_of_birth"] == "1900-01-01"


async def test_dates_outside_the_range_are_422_in_bodies(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    for body in (
        case_body(members=[member(date_of_birth="0001-01-01")]),
        case_body(identified_at="1899-12-31"),
    ):
        response = await client.post(f"{API}/cases", json=body, headers=worker.headers)
        assert_problem(response, 422, "validation_error")
    listed = await client.get(f"{API}/cases", headers=worker.headers)
    assert listed.json()["items"] == []  # nothing was stored


# HTTP hygiene ----------------------------------------------------------------------------------
async def test_every_api_answer_is_no_store_and_nosniff(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    answers = [
        await client.get(f"{API}/me", headers=worker.headers),
        await client.get(f"{API}/me"),
        await client.get(f"{API}/nowhere", headers=worker.headers),
        await client.post(f"{API}/auth/token", data={"username": "x", "password": "y"}),
    ]
    assert [a.status_code for a in answers] == [200, 401, 404, 401]
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    body = orjson.dumps(case_body())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = dict(worker.headers)
        if content_type:
            headers["Content-Type"] = content_type
        response = await client.post(f"{API}/cases", content=body, headers=headers)
        assert_problem(response, 415, "unsupported_media_type")
    merged = {**worker.headers, "Content-Type": "application/merge-patch+json; charset=utf-8"}
    assert (await client.post(f"{API}/cases", content=body, headers=merged)).status_code == 201


async def test_a_trailing_slash_is_a_404_never_a_redirect(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    response = await client.get(f"{API}/cases/", headers={**worker.headers, "Host": "evil.example"})
    assert_problem(response, 404, "not_found")
    assert "location" not in response.headers


async def test_head_is_answered_for_get_routes(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    for path in (f"{API}/me", f"{API}/cases", "/healthz"):
        head = await client.head(path, headers=worker.headers)
        assert head.status_code == 200 and head.content == b"", path
    wrong = await client.delete(f"{API}/me", headers=worker.headers)
    assert_problem(wrong, 405, "method_not_allowed")
    assert "HEAD" in wrong.headers["Allow"].split(", ")


@pytest.mark.parametrize("if_match", ['"1", "2"', '"1","1"', "*", ""])
async def test_if_match_names_exactly_one_tag(
    client: httpx.AsyncClient, make: Factory, if_match: str
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker)
    response = await client.patch(
        f"{API}/cases/{case['id']}",
        json={"processing_priority": "normal"},
        headers={**worker.headers, "If-Match": if_match},
    )
    assert_problem(response, 428, "precondition_required")


async def test_usernames_are_unique_ignoring_case(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    body = {"username": "Maria.Lopez", "password": "a-long-enough-password", "role": "manager"}
    assert (await client.post(f"{API}/users", json=body, headers=admin.headers)).status_code == 201
    again = await client.post(
        f"{API}/users", json={**body, "username": "maria.lopez"}, headers=admin.headers
    )
    assert_problem(again, 409, "conflict")


def forged(user_id: Any, **claims: Any) -> dict[str, str]:
    now = int(datetime.now(UTC).timestamp())
    base = {
        "sub": str(user_id),
        "role": "caseworker",
        "gen": 0,
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "j",
    }
    token = jwt.encode({**base, **claims}, SECRET, algorithm=ALGORITHM)
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_with_odd_times_are_401(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    now = int(datetime.now(UTC).timestamp())
    assert (await client.get(f"{API}/me", headers=forged(worker.id))).status_code == 200
    for claims in (
        {"exp": str(now + 600)},
        {"iat": str(now)},
        {"exp": float(now + 600)},
        {"iat": now + 3600, "exp": now + 3700},  # issued in the future
        {"exp": now + int(timedelta(days=365 * 100).total_seconds())},  # a 100-year token
        {"exp": now + 31 * 60},  # one minute more than PTA_TOKEN_MINUTES
    ):
        response = await client.get(f"{API}/me", headers=forged(worker.id, **claims))
        assert_problem(response, 401, "unauthorized")
    within_leeway = forged(worker.id, iat=now + 30, exp=now + 600)
    assert (await client.get(f"{API}/me", headers=within_leeway)).status_code == 200
