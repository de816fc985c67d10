"""Bad input: oversized bodies (with and without Content-Length, over a real socket), deep and
huge JSON, wrong types, invalid UTF-8, SQL-looking text, out-of-range page sizes and forged
cursors — each a 4xx problem+json, never a 500 or a hang — and the statement timeout: a
request that waits on a lock answers 503 in about the timeout instead of holding on."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import AsyncpgDb
from app.services import users
from tests.common import assert_problem
from tests.factories import Factory, TestUser, case_body, member
from tests.live_server import LiveServer, start_server

pytestmark = pytest.mark.reliability

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(migrated.database_url, tmp_path_factory.mktemp("bad-input"))
    try:
        yield running
    finally:
        running.stop()


# Size ------------------------------------------------------------------------------------------
def raw_request(server: LiveServer, head: bytes, body_parts: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``body_parts`` over a socket, never finishing the body; return the
    answer's first bytes and how many body bytes were sent before it came."""
    host, port = server.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                answer = sock.recv(65536)
                if answer:
                    return _rest_of_answer(sock, answer, deadline), sent
            except BlockingIOError:
                pass
            part = next(body_parts, None)
            if part is None:
                time.sleep(0.05)
                continue
            try:
                sock.sendall(part)  # may block briefly; the server is reading
            except BlockingIOError:
                time.sleep(0.01)
            sent += len(part)
    raise AssertionError(f"no answer within 10 s after {sent} body bytes")


def _rest_of_answer(sock: socket.socket, answer: bytes, deadline: float) -> bytes:
    """Read on until the answer's head and its declared body have arrived (the server may send
    them in separate segments) or the server closes; the body stays unfinished meanwhile."""
    while time.monotonic() < deadline:
        head, _, body = answer.partition(b"\r\n\r\n")
        if _:
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            if len(body) >= length:
                return answer
        try:
            more = sock.recv(65536)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        except ConnectionError:
            return answer
        if not more:
            return answer
        answer += more
    return answer


def _head(user: TestUser, server: LiveServer, extra: str) -> bytes:
    host = server.url.removeprefix("http://")
    return (
        f"POST /api/v1/cases HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {user.token}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


async def test_a_chunked_body_over_a_mebibyte_is_413_before_it_ends(
    make: Factory, server: LiveServer
) -> None:
    worker = await make.user("caseworker")
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        for _ in range(64 * 16):  # up to 64 MiB, never the closing chunk
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)

    head = _head(worker, server, "Transfer-Encoding: chunked\r\n")
    answer, sent = await asyncio.to_thread(raw_request, server, head, chunks())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer and b"payload_too_large" in answer
    assert sent < 8 * MIB, f"the server read {sent} bytes before answering"


async def test_a_declared_length_over_a_mebibyte_is_413_before_any_body(
    make: Factory, server: LiveServer
) -> None:
    worker = await make.user("caseworker")
    head = _head(worker, server, f"Content-Length: {50 * MIB}\r\n")
    answer, sent = await asyncio.to_thread(raw_request, server, head, iter(()))
    assert answer.startswith(b"HTTP/1.1 413") and sent == 0, answer[:200]


async def test_oversized_bodies_in_process(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")

    def stream() -> Iterator[bytes]:
        yield b'{"referral_source": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    async def astream() -> Any:
        for part in stream():
            yield part

    chunked = await client.post(
        "/api/v1/cases",
        content=astream(),
        headers={**worker.headers, "Content-Type": "application/json"},
    )
    assert_problem(chunked, 413, "payload_too_large")
    big_text = case_body(protection_summary="z" * (MIB + 1))
    assert_problem(await client.post("/api/v1/cases", json=big_text, headers=worker.headers), 413)


# Shape -----------------------------------------------------------------------------------------
BAD_BODIES: dict[str, bytes] = {
    "100k nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "100k nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep inside a field": b'{"origin_country": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "invalid UTF-8": b'{"origin_country": "\xff\xfe", "pathway": "transit"}',
    "lone surrogate": b'{"referral_source": "\\ud800"}',
    "not JSON": b"origin_country=SLV",
    "empty": b"",
    "a number": b"42",
    "a list": b"[]",
    "null": b"null",
    "NaN": b'{"origin_country": NaN}',
    "duplicate of nothing, unclosed": b'{"origin_country": "SLV"',
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_malformed_bodies_are_422(
    client: httpx.AsyncClient, make: Factory, name: str
) -> None:
    worker = await make.user("caseworker")
    response = await client.post(
        "/api/v1/cases",
        content=BAD_BODIES[name],
        headers={**worker.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation_error")


def wrong_types() -> dict[str, dict[str, Any]]:
    return {
        "members a string": case_body(members="Ana Lopez"),
        "members objects": case_body(members={"0": member()}),
        "is_principal a string": case_body(members=[member(is_principal="yes")]),
        "is_principal a number": case_body(members=[member(is_principal=1)]),
        "date as a number": case_body(members=[member(date_of_birth=19900203)]),
        "date as a timestamp": case_body(identified_at="2020-01-01T00:00:00Z"),
        "priority a list": case_body(processing_priority=["urgent"]),
        "country lower case": case_body(origin_country="slv"),
        "country a number": case_body(origin_country=222),
        "text a number": case_body(referral_source=12),
        "text an object": case_body(protection_summary={"$ne": ""}),
        "31 members": case_body(
            members=[member()] + [member(is_principal=False, relationship="child")] * 30
        ),
        "100k members": case_body(members=[{}] * 100_000),
        "extra field": {**case_body(), "status": "resettled"},
        "id given": {**case_body(), "id": "00000000-0000-0000-0000-000000000000"},
    }


@pytest.mark.parametrize("name", list(wrong_types()))
async def test_wrong_types_are_422(client: httpx.AsyncClient, make: Factory, name: str) -> None:
    worker = await make.user("caseworker")
    response = await client.post("/api/v1/cases", json=wrong_types()[name], headers=worker.headers)
    assert_problem(response, 422, "validation_error")


async def test_wrong_types_in_transitions_and_patches(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker)
    url = f"/api/v1/cases/{case['id']}"
    headers = {**worker.headers, "If-Match": f'"{case["version"]}"'}
    for body in (
        {"action": 7},
        {"action": ["start_assessment"]},
        {"action": "start_assessment", "extra": True},
        {"action": "record_transit_entry", "entered_at": 20200101},
        {"action": "drop table cases"},
    ):
        assert_problem(await client.post(f"{url}/transitions", json=body, headers=headers), 422)
    for patch in ({"members": None}, {"version": 9}, {}, {"pathway": 1}):
        assert_problem(await client.patch(url, json=patch, headers=headers), 422)
    assert (await client.get(url, headers=worker.headers)).json()["version"] == case["version"]


# SQL-looking text is data -------------------------------------------------------------------
SQLISH = [
    "'; DROP TABLE cases; --",
    "Robert'); DELETE FROM members WHERE ('1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(10); --",
    "%' OR 1=1 --",
    "$$; TRUNCATE case_events; $$",
    "\\'; UPDATE users SET role='admin'; --",
]


async def test_sql_looking_text_is_stored_and_returned_verbatim(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    worker = await make.user("caseworker")
    body = case_body(
        referral_source=SQLISH[0],
        protection_summary="\n".join(SQLISH),
        members=[
            member(given_name=SQLISH[1], family_name=SQLISH[2], document_number=SQLISH[3][:60]),
            member(
                is_principal=False,
                given_name=SQLISH[4],
                family_name=SQLISH[5],
                relationship=SQLISH[6][:50],
            ),
        ],
    )
    started = time.monotonic()
    created = await client.post("/api/v1/cases", json=body, headers=worker.headers)
    assert created.status_code == 201, created.text
    assert time.monotonic() - started < 5, "pg_sleep ran"
    again = (
        await client.get(f"/api/v1/cases/{created.json()['id']}", headers=worker.headers)
    ).json()
    assert again["referral_source"] == SQLISH[0]
    assert again["protection_summary"] == "\n".join(SQLISH)
    names = [(m["given_name"], m["family_name"]) for m in again["members"]]
    assert names == [(SQLISH[1], SQLISH[2]), (SQLISH[4], SQLISH[5])]
    assert again["members"][0]["document_number"] == SQLISH[3][:60]
    exported = await client.get("/api/v1/cases/export", headers=worker.headers)
    assert "DROP TABLE cases" in exported.text
    async with engine.connect() as conn:
        for table in ("cases", "members", "case_events", "users"):
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() >= 1
    for query in (
        "origin_country=SLV' OR '1'='1",
        "status=identified;DROP TABLE cases",
        "identified_from=2020-01-01' --",
        "cursor=' OR 1=1 --",
    ):
        assert_problem(await client.get(f"/api/v1/cases?{query}", headers=worker.headers), 422)


# Pages and cursors ---------------------------------------------------------------------------
def b64(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


FORGED = [
    "x",
    "%FF%FE",
    "====",
    b64("id:not-a-uuid"),
    b64("n:99999999999999999999999"),
    b64("n:-1"),
    b64("other:0"),
    b64("id:"),
    "A" * 200,
]


@pytest.mark.parametrize(
    "path,role",
    [
        ("/api/v1/cases", "caseworker"),
        ("/api/v1/cases/{case_id}/events", "caseworker"),
        ("/api/v1/users", "admin"),
        ("/api/v1/audit/access-log", "supervisor"),
    ],
)
async def test_page_sizes_and_forged_cursors_are_422(
    client: httpx.AsyncClient, make: Factory, path: str, role: str
) -> None:
    worker = await make.user("caseworker")
    user = worker if role == "caseworker" else await make.user(role)
    if "{case_id}" in path:
        path = path.replace("{case_id}", (await make.case(worker))["id"])
    for limit in ("0", "201", "-1", "10000000000000000000000", "1.5", "", "ten"):
        answer = await client.get(f"{path}?limit={limit}", headers=user.headers)
        assert_problem(answer, 422, "validation_error")
    for cursor in [*FORGED, "A" * 201]:
        answer = await client.get(path, params={"cursor": cursor}, headers=user.headers)
        assert_problem(answer, 422, "validation_error")
    assert (await client.get(f"{path}?limit=200", headers=user.headers)).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/cases?updated_since=0.5",
        "/api/v1/cases?updated_since=1700000000",
        "/api/v1/cases/export?updated_since=1700000000",
        "/api/v1/audit/access-log?from=0.5",
        "/api/v1/audit/access-log?to=1700000000",
    ],
)
async def test_a_number_is_not_a_timestamp(
    client: httpx.AsyncClient, make: Factory, query: str
) -> None:
    """api.md: a malformed date or timestamp → 422; the document says RFC 3339 date-time.
    (Found by the contract fuzzing: pydantic's lax datetime reads a number as Unix time.)"""
    user = await make.user("supervisor")
    assert_problem(await client.get(query, headers=user.headers), 422, "validation_error")


# Statement timeout ---------------------------------------------------------------------------
async def test_a_request_waiting_on_a_lock_answers_503_within_the_timeout(
    migrated: Settings, make: Factory, engine: AsyncEngine, tmp_path: Any
) -> None:
    """PTA_STATEMENT_TIMEOUT_MS bounds how long any request can hold or wait on the database:
    with the cases table locked by another session, a write and a read answer 503 in about
    the timeout, and the next request, once the lock is gone, succeeds."""
    if migrated.is_sqlite:
        pytest.skip("PostgreSQL's statement_timeout (SQLite waits on its busy timeout)")
    worker = await make.user("caseworker")
    server = start_server(
        migrated.database_url,
        tmp_path / "timeout",
        extra_env={"PTA_STATEMENT_TIMEOUT_MS": "1000", "PTA_LOG_LEVEL": "WARNING"},
    )
    try:
        async with engine.connect() as locker:
            await locker.execute(text("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE"))
            for method, path, body in (
                ("POST", "/api/v1/cases", case_body()),
                ("GET", "/api/v1/cases", None),
            ):
                started = time.monotonic()
                answer = await asyncio.to_thread(
                    httpx.request,
                    method,
                    server.url + path,
                    json=body,
                    headers=worker.headers,
                    timeout=30,
                )
                took = time.monotonic() - started
                assert_problem(answer, 503, "service_unavailable")
                assert 0.9 < took < 4, f"{method} {path} answered after {took:.2f} s"
            await locker.rollback()
        after = await asyncio.to_thread(
            httpx.post, server.url + "/api/v1/cases", json=case_body(), headers=worker.headers
        )
        assert after.status_code == 201, after.text
    finally:
        server.stop()


async def test_a_connection_the_driver_lost_track_of_is_a_503_and_never_reused(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the outage test: the server's FATAL reaching an idle pooled connection just
    before the socket closes leaves asyncpg's protocol half-way, and the next request's BEGIN
    fails with asyncpg's InternalClientError. That request answers 503 (not 500), and the
    connection is closed rather than handed to the next request."""
    worker = await make.user("caseworker")
    backends: list[int] = []
    authenticate = users.authenticate

    async def driver_in_doubt(db: Any, *args: Any) -> Any:
        if isinstance(db, AsyncpgDb):
            backends.append(db.conn.get_server_pid())
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2)")

    monkeypatch.setattr(users, "authenticate", driver_in_doubt)
    answer = await client.get("/api/v1/cases", headers=worker.headers)
    assert_problem(answer, 503, "service_unavailable")
    assert answer.headers["Retry-After"]
    monkeypatch.setattr(users, "authenticate", authenticate)
    assert (await client.get("/api/v1/cases", headers=worker.headers)).status_code == 200
    for pid in backends:  # PostgreSQL: the backend behind that connection is gone
        async with engine.connect() as conn:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(50):
                if await conn.scalar(query, {"pid": pid}) == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"connection {pid} is still open")


@pytest.mark.parametrize("field", ["given_name", "referral_source", "document_number"])
async def test_a_nul_character_is_never_a_500(
    client: httpx.AsyncClient, make: Factory, field: str
) -> None:
    """PostgreSQL cannot store NUL in text (found by the contract fuzzing: it answered 500).
    Refused with 422 — or, where the database can hold it (SQLite), kept verbatim."""
    worker = await make.user("caseworker")
    value = "Ana\x00Lopez"
    body = (
        case_body(referral_source=value)
        if field == "referral_source"
        else case_body(members=[member(**{field: value})])
    )
    answer = await client.post("/api/v1/cases", json=body, headers=worker.headers)
    if answer.status_code != 201:
        assert_problem(answer, 422, "validation_error")
        return
    stored = await client.get(f"/api/v1/cases/{answer.json()['id']}", headers=worker.headers)
    found = stored.json()
    got = found["referral_source"] if field == "referral_source" else found["members"][0][field]
    assert got == value
