"""Structured logs: one JSON line per request with its id, the user, the role, the route
template, the status and the duration — and never a name, a date of birth, a document number
or a narrative, whatever the request carried."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app import logs
from tests.factories import Factory, case_body, member

#: Personal data a case carries, that must never reach a log line.
GIVEN, FAMILY = "Zephyrine", "Quillbottom-Ardanaz"
DOCUMENT, BIRTH = "DOC-XQ-771204", "1961-07-19"
SUMMARY = "Fled after the Ardanaz gang burned the family shop"
REFERRAL = "Referred by the Quillbottom parish shelter"
PERSONAL = (GIVEN, FAMILY, DOCUMENT, BIRTH, "Ardanaz", "Quillbottom")


class Lines(logging.Handler):
    """Every record any logger writes, formatted as the service formats it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.addFilter(logs.OnlyOurs())  # as the service's handler
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.lines:
            assert "\n" not in line
            entry = json.loads(line)
            assert isinstance(entry, dict)
            entries.append(entry)
        return entries

    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.parsed() if e["logger"] == "pta.request"]


@pytest.fixture
def captured() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_one_line_per_request_with_ids_role_route_status_duration(
    client: httpx.AsyncClient, make: Factory, captured: Lines
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker)
    captured.lines.clear()
    given = "0b9e3a52-8a51-4c3e-9d1f-2c7a1e0f4b6d"
    response = await client.get(
        f"/api/v1/cases/{case['id']}", headers={**worker.headers, "X-Request-ID": given}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "0b9e3a52-8a51-4c3e-9d1f-2c7a1e0f4b6d"
    [line] = captured.requests()
    assert line["request_id"] == "0b9e3a52-8a51-4c3e-9d1f-2c7a1e0f4b6d"
    assert line["user_id"] == str(worker.id)
    assert line["role"] == "caseworker"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/cases/{case_id}"  # the template, not the path
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["message"] == "request"
    assert case["id"] not in json.dumps(line)


async def test_anonymous_and_unmatched_requests_are_logged_too(
    client: httpx.AsyncClient, captured: Lines
) -> None:
    await client.get("/api/v1/cases")
    await client.get("/not/a/route?given_name=Zephyrine")
    first, second = captured.requests()
    assert (first["route"], first["status"], first["user_id"], first["role"]) == (
        "/api/v1/cases",
        401,
        None,
        None,
    )
    assert (second["route"], second["status"]) == (None, 404)
    assert "Zephyrine" not in json.dumps(captured.parsed())  # neither the path nor the query


@pytest.mark.parametrize(
    "given",
    [
        "",
        "has spaces",
        "x" * 129,
        "new\nline",
        "semi;colon",
        "ünïcode",
        "trace-42.a",
        "A1234567-1987-11-23",  # a document number and a date of birth: never logged
        "0b9e3a528a514c3e9d1f2c7a1e0f4b6d",  # a UUID without its hyphens is not kept either
    ],
)
async def test_an_unusable_request_id_is_replaced(
    client: httpx.AsyncClient, captured: Lines, given: str
) -> None:
    headers: dict[bytes, bytes] = {b"X-Request-ID": given.encode()} if given else {}
    try:
        response = await client.get("/healthz", headers=headers)
    except httpx.LocalProtocolError:  # httpx refuses to send a newline in a header
        return
    made = response.headers["x-request-id"]
    assert made != given and re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", made)
    [line] = captured.requests()
    assert line["request_id"] == made


BIG_ID = "5d0c2f4e-7b1a-4e8e-a0c3-6f9b2d1e8a70"


async def test_every_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    seen = set()
    for path in ("/healthz", "/api/v1/me", "/nowhere", "/metrics"):
        response = await client.get(path)
        seen.add(response.headers["x-request-id"])
    assert len(seen) == 4  # a new one each time
    big = await client.post(
        "/api/v1/cases", content=b"x" * (1024 * 1024 + 1), headers={"X-Request-ID": BIG_ID}
    )
    assert big.status_code == 413 and big.headers["x-request-id"] == BIG_ID


async def test_no_personal_data_in_any_log_line(
    client: httpx.AsyncClient, make: Factory, captured: Lines
) -> None:
    worker = await make.user("caseworker")
    boss = await make.user("supervisor")
    body = case_body(
        referral_source=REFERRAL,
        protection_summary=SUMMARY,
        members=[
            member(
                given_name=GIVEN,
                family_name=FAMILY,
                date_of_birth=BIRTH,
                document_number=DOCUMENT,
            )
        ],
    )
    created = await client.post(
        "/api/v1/cases", json=body, headers={**worker.headers, "Idempotency-Key": "k-1"}
    )
    assert created.status_code == 201
    case = created.json()
    replay = await client.post(
        "/api/v1/cases", json=body, headers={**worker.headers, "Idempotency-Key": "k-1"}
    )
    assert replay.status_code == 201
    reused = await client.post(
        "/api/v1/cases",
        json={**body, "processing_priority": "normal"},
        headers={**worker.headers, "Idempotency-Key": "k-1"},
    )
    assert reused.status_code == 422
    # invalid bodies that quote the personal data back
    bad = {**body, "members": [member(given_name=GIVEN, date_of_birth="2999-01-01")]}
    assert (await client.post("/api/v1/cases", json=bad, headers=worker.headers)).status_code == 422
    unknown = {**body, "nickname": GIVEN}
    answer = await client.post("/api/v1/cases", json=unknown, headers=worker.headers)
    assert answer.status_code == 422
    # reads, searches, exports and edits of the case
    await client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
    await client.get("/api/v1/cases", headers=worker.headers)
    await client.get("/api/v1/cases/export", headers=worker.headers)
    await client.get(f"/api/v1/cases/{case['id']}/events", headers=boss.headers)
    await client.get(f"/api/v1/cases?origin_country={FAMILY}", headers=worker.headers)
    patched = await client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"protection_summary": SUMMARY + " (updated)"},
        headers={**worker.headers, "If-Match": f'"{case["version"]}"'},
    )
    assert patched.status_code == 200
    await make.act(worker, patched.json(), "close", expect=403, reason="other", note=SUMMARY)
    # sign-in attempts with a name as the username
    await client.post("/api/v1/auth/token", data={"username": GIVEN, "password": DOCUMENT})

    captured.parsed()  # every line is one JSON object
    assert len(captured.requests()) >= 12
    text = "\n".join(captured.lines)
    for secret in (*PERSONAL, SUMMARY, REFERRAL):
        assert secret not in text, secret


def test_stray_output_becomes_json_lines() -> None:
    target = io.StringIO()
    stream = logs.JsonLines(target, "stderr")
    stream.write('{"already": "json"}\n')
    stream.write("Traceback (most recent call last):\n  File")
    stream.write(' "x.py", line 1\n')
    stream.write("plain words")
    stream.flush()
    lines = target.getvalue().splitlines()
    assert json.loads(lines[0]) == {"already": "json"}
    wrapped = [json.loads(line) for line in lines[1:]]
    assert [w["message"] for w in wrapped] == [
        "Traceback (most recent call last):",
        '  File "x.py", line 1',
        "plain words",
    ]
    assert all(w["logger"] == "stderr" and w["level"] == "error" for w in wrapped)


def test_a_crash_warnings_and_prints_are_json_and_keep_no_error_text() -> None:
    """What a `pta serve` process does: configure, capture, then anything goes wrong."""
    script = (
        "import logging, warnings, sys\n"
        "from app import logs\n"
        "logs.configure('DEBUG'); logs.capture_everything()\n"
        "print('a plain print')\n"
        "warnings.warn('a warning')\n"
        "sys.stderr.write('raw text\\n')\n"
        "logging.getLogger('pta.x').info('hello', extra={'user_id': 'u1'})\n"
        f"logging.getLogger('aiosqlite').debug('INSERT ... {GIVEN}')\n"
        f"raise RuntimeError('name {GIVEN} in an error')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines() + done.stderr.splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(isinstance(e, dict) for e in entries)
    messages = [e["message"] for e in entries]
    assert "a plain print" in messages and "raw text" in messages and "hello" in messages
    assert any("a warning" in m for m in messages)
    crash = [e for e in entries if e.get("error_type") == "RuntimeError"]
    assert crash and crash[0]["level"] == "critical"
    assert GIVEN not in done.stdout + done.stderr  # the exception's text is never written


def test_an_unknown_log_level_falls_back_to_info() -> None:
    assert logs.uvicorn_log_config("loud")["root"]["level"] == "INFO"
    assert logs.uvicorn_log_config("debug")["root"]["level"] == "DEBUG"
    assert logs.uvicorn_log_config("debug")["loggers"]["uvicorn.access"]["propagate"] is False
