"""Operations: `pta serve --workers 2` as a real server (metrics add up across workers, every
line it writes is JSON and holds no personal data, a request in flight survives SIGTERM), the
docs and CORS switches, and the Dockerfile's required instructions."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from tests.factories import case_body, member
from tests.live_server import free_port, pta_command

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(18250, 18300)  # this suite's port range on the test machine
GIVEN, FAMILY, DOCUMENT, BIRTH = "Oriabel", "Vantongeren-Suso", "PAS-OV-558213", "1958-03-27"
PASSWORD = "ops-test-password-1234"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    folder: Path
    env: dict[str, str]

    def lines(self) -> list[str]:
        out = (self.folder / "stdout").read_text() + (self.folder / "stderr").read_text()
        return out.splitlines()

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def request_lines(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e.get("logger") == "pta.request"]


def start(folder: Path, workers: int) -> Server:
    port = free_port(PORTS)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PTA_", "PROMETHEUS_"))
    }
    env |= {"PTA_DATABASE_URL": f"sqlite:///{folder / 'pta.db'}", "PTA_LOG_LEVEL": "INFO"}
    command = [*pta_command(), "serve", "--port", str(port), "--workers", str(workers)]
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=err)
    server = Server(process, f"http://127.0.0.1:{port}", port, folder, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "\n".join(server.lines())
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("pta serve did not become ready:\n" + "\n".join(server.lines()))


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("serve"), workers=2)
    try:
        yield running
    finally:
        stop(running)


def close(url: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection, so that either worker may take it."""
    headers = {"Connection": "close", **kwargs.pop("headers", {})}
    return httpx.request(kwargs.pop("method", "GET"), url, headers=headers, timeout=30, **kwargs)


def counter(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@pytest.fixture(scope="module")
def signed_in(server: Server) -> dict[str, str]:
    """A caseworker made with `pta users create` against the running server's database."""
    made = subprocess.run(
        [
            *pta_command(),
            "users",
            "create",
            "ops_worker",
            "--role",
            "caseworker",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=server.env,
        cwd=server.folder,
        timeout=60,
        check=True,
    )
    user_id = made.stdout.strip().splitlines()[-1]
    token = close(
        f"{server.url}/api/v1/auth/token",
        method="POST",
        data={"username": "ops_worker", "password": PASSWORD},
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "user_id": user_id}


@pytest.mark.slow
def test_a_case_is_logged_by_ids_only_and_the_request_id_round_trips(
    server: Server, signed_in: dict[str, str]
) -> None:
    auth = {"Authorization": signed_in["Authorization"]}
    body = case_body(
        members=[
            member(
                given_name=GIVEN, family_name=FAMILY, date_of_birth=BIRTH, document_number=DOCUMENT
            )
        ]
    )
    created = close(
        f"{server.url}/api/v1/cases",
        method="POST",
        json=body,
        headers={**auth, "X-Request-ID": "6c1f0b2e-3d4a-4b5c-8e9f-0a1b2c3d4e5f"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "6c1f0b2e-3d4a-4b5c-8e9f-0a1b2c3d4e5f"
    case_id = created.json()["id"]
    got = close(f"{server.url}/api/v1/cases/{case_id}", headers=auth)
    assert got.status_code == 200 and got.json()["members"][0]["given_name"] == GIVEN

    time.sleep(0.2)
    [line] = [
        e
        for e in server.request_lines()
        if e.get("request_id") == "6c1f0b2e-3d4a-4b5c-8e9f-0a1b2c3d4e5f"
    ]
    assert line["route"] == "/api/v1/cases" and line["method"] == "POST"
    assert line["status"] == 201 and line["duration_ms"] > 0
    assert line["user_id"] == signed_in["user_id"] and line["role"] == "caseworker"
    [read] = [
        e for e in server.request_lines() if e.get("request_id") == got.headers["x-request-id"]
    ]
    assert read["route"] == "/api/v1/cases/{case_id}"


@pytest.mark.slow
def test_metrics_add_up_across_two_workers(server: Server) -> None:
    before = close(f"{server.url}/metrics").text
    start_count = counter(before, "http_requests_total", handler="/healthz", status="200")
    sent = 0
    for _ in range(200):  # until both workers have answered some (bounded)
        for _ in range(10):
            assert (
                close(
                    f"{server.url}/healthz",
                    headers={"X-Request-ID": "0e4b6a2c-9f1d-4c8e-b7a5-3d2f1e0c9b8a"},
                ).status_code
                == 200
            )
            sent += 1
        time.sleep(0.1)
        pids = {
            e["pid"]
            for e in server.request_lines()
            if e.get("request_id") == "0e4b6a2c-9f1d-4c8e-b7a5-3d2f1e0c9b8a"
        }
        if len(pids) == 2:
            break
    assert len(pids) == 2, "one worker took every connection"

    for _ in range(4):  # whichever worker answers the scrape counts both workers' requests
        text = close(f"{server.url}/metrics").text
        labels = {"method": "GET", "handler": "/healthz", "status": "200"}
        assert counter(text, "http_requests_total", **labels) - start_count == sent
        assert counter(text, "http_request_duration_seconds_count", **labels) - start_count == sent
        created = [e for e in server.request_lines() if e["route"] == "/api/v1/cases"]
        made = sum(1 for e in created if e["status"] == 201)
        assert counter(text, "pta_cases", status="identified") == made
        assert counter(text, "pta_domain_metrics_up") == 1
    scrapers = {e["pid"] for e in server.request_lines() if e.get("route") == "/metrics"}
    assert scrapers  # (usually both)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(
    server: Server, signed_in: dict[str, str]
) -> None:
    """A sign-in whose body is still arriving when the server is told to stop completes 200;
    then the server exits cleanly, and everything it wrote was JSON without personal data."""
    form = f"username=ops_worker&password={PASSWORD}".encode()
    head = (
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\nX-Request-ID: 3a7c5e91-2b4d-4f6a-8c0e-1d3f5b7a9c2e\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(head + form[:10])
        time.sleep(0.5)  # the request is in the application, waiting for its body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # shutdown has begun
        assert server.process.poll() is None  # still waiting for the request in flight
        conn.sendall(form[10:])
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK", answer[:300]
    assert b"access_token" in answer
    assert server.process.wait(timeout=30) == 0

    lines = server.lines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(
        isinstance(e, dict) and {"time", "level", "logger", "message"} <= set(e) for e in entries
    )
    messages = " ".join(str(e["message"]) for e in entries)
    assert "migrating the database" in messages and "Started server process" in messages
    assert "Application shutdown complete" in messages
    assert any(
        e.get("request_id") == "3a7c5e91-2b4d-4f6a-8c0e-1d3f5b7a9c2e" and e["status"] == 200
        for e in entries
    )
    everything = "\n".join(lines)
    for secret in (GIVEN, FAMILY, DOCUMENT, BIRTH, PASSWORD):
        assert secret not in everything, secret
    serving = next(e for e in entries if e["message"] == "serving")
    assert not Path(serving["metrics_dir"]).exists()  # the multiprocess files are cleaned up


def test_an_in_memory_database_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTA_")}
    env["PTA_DATABASE_URL"] = "sqlite:///:memory:"
    done = subprocess.run(
        [*pta_command(), "serve", "--port", str(free_port(PORTS))],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    [entry] = [json.loads(line) for line in done.stderr.splitlines()]
    assert entry["message"] == "configuration refused" and ":memory:" in entry["reason"]


# --- switches, in process -------------------------------------------------------------------


async def answer(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
        return await http.request(method, path, **kwargs)


async def test_docs_can_be_hidden(settings: Settings) -> None:
    shown = create_app(settings)
    assert (await answer(shown, "GET", "/openapi.json")).status_code == 200
    assert (await answer(shown, "GET", "/docs")).status_code == 200
    hidden = create_app(settings.model_copy(update={"docs": False}))
    for path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
        response = await answer(hidden, "GET", path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await answer(hidden, "GET", "/healthz")).status_code == 200


async def test_docs_switch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTA_DOCS", "false")
    monkeypatch.setenv("PTA_CORS_ORIGINS", "https://a.example, https://b.example")
    configured = Settings(database_url="sqlite:///:memory:", secret_key="k" * 40)
    assert configured.docs is False
    assert configured.cors_origins == ["https://a.example", "https://b.example"]


async def test_cors_preflight_for_a_configured_origin(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://ui.example"]}))
    preflight = {
        "Origin": "https://ui.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, if-match, idempotency-key",
    }
    allowed = await answer(app, "OPTIONS", "/api/v1/cases/123/transitions", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "if-match", "idempotency-key"):
        assert header in allowed_headers
    assert "x-request-id" in allowed.headers

    stranger = await answer(
        app, "OPTIONS", "/api/v1/cases", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers

    simple = await answer(app, "GET", "/healthz", headers={"Origin": "https://ui.example"})
    assert simple.headers["access-control-allow-origin"] == "https://ui.example"
    exposed = simple.headers["access-control-expose-headers"].lower()
    assert "etag" in exposed and "x-request-id" in exposed

    closed = create_app(settings)  # no PTA_CORS_ORIGINS: no CORS headers at all
    plain = await answer(closed, "GET", "/healthz", headers={"Origin": "https://ui.example"})
    assert "access-control-allow-origin" not in plain.headers


# --- the container ----------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_serves() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage"
    build_from = stages[0][0][1]
    assert re.fullmatch(r"\S+\s+AS\s+\w+", build_from, re.IGNORECASE), build_from
    build_name = build_from.split()[-1]
    final = stages[-1]
    assert "slim" in final[0][1] or "alpine" in final[0][1] or "distroless" in final[0][1]
    copies = [args for op, args in final if op == "COPY"]
    assert any(f"--from={build_name}" in args for args in copies)
    # the migrations and alembic.ini reach the working directory (app/migrate.py looks there)
    # the migrations reach where PTA_MIGRATIONS_DIR says (app/migrate.py looks there)
    targets = {args.split()[-1].rstrip("/") for args in copies}
    envs = " ".join(args for op, args in final if op == "ENV")
    (migrations,) = re.findall(r"PTA_MIGRATIONS_DIR=(\S+)", envs)
    assert migrations in targets

    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    names = [op for op, _ in final]
    assert names.index("USER") < names.index("CMD")

    [check] = [args for op, args in final if op == "HEALTHCHECK"]
    assert "/healthz" in check and "CMD" in check

    [cmd] = [args for op, args in final if op == "CMD"]
    argv = json.loads(cmd)  # exec form: the server gets SIGTERM itself
    assert argv[:2] == ["pta", "serve"]
    assert "PTA_HOST=0.0.0.0" in envs and "--host" not in argv  # listens on PTA_HOST
    # configuration only through the environment: no secret or database URL baked in
    envs = " ".join(args for stage in stages for op, args in stage if op in ("ENV", "ARG"))
    assert "PTA_SECRET_KEY" not in envs and "PTA_DATABASE_URL" not in envs
