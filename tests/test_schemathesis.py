"""Contract fuzzing: schemathesis 4 against a live ``pta serve`` on the test database (emptied
before the run), signed in as every role — officers of four countries among them — with
``--checks all``. Zero failures.

Two runs:
- every operation, each with the first user (in the auth file's order) it admits, all checks
  and phases (examples, coverage, fuzzing, stateful through the document's links);
- the case reads pinned to a resettlement officer, so that schemathesis'
  ``object_level_authorization`` check replays each of its reads as the other officers (the
  ``peers`` of tests/schemathesis.toml) and fails if one of them gets the case.

Beside them, the same rule checked without chance: every operation that takes a case id,
asked by an officer of another country about a case another officer sees, answers 404 — and
every status the service can give is declared in the OpenAPI document with the problem schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.factories import Factory, TestUser
from tests.lifecycle_helpers import (
    ACCEPT,
    ACCEPT_SPLIT,
    AUTHORISE_CRI,
    IN_TRANSIT,
    REQUEST_CRI,
    REVIEW,
    Cast,
    Driver,
    make_cast,
    submission,
)
from tests.live_server import ROOT, LiveServer, start_server

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

CONFIG = ROOT / "tests" / "schemathesis.toml"
SEED = int(os.environ.get("PTA_FUZZ_SEED", "20260"))
EXAMPLES = int(os.environ.get("PTA_FUZZ_EXAMPLES", "25"))
CASE_PATH = "/api/v1/cases/{case_id}"
PROBLEM = "#/components/schemas/Problem"


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    return [str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def identities(cast: Cast) -> dict[str, TestUser]:
    """The auth file's users, in the order schemathesis tries them."""
    return {
        "supervisor": cast.boss,
        "caseworker": cast.worker,
        "resettlement_officer_usa": cast.usa,
        "resettlement_officer_can": cast.can,
        "transit_officer_cri": cast.cri,
        "transit_officer_pan": cast.pan,
    }


async def seed(drive: Driver, make: Factory) -> dict[str, TestUser]:
    """Cases each officer sees and the others do not, and the users to sign in as."""
    c = drive.cast
    await drive.run(await drive.new_case(), IN_TRANSIT)  # USA submission, CRI stay
    await drive.run(
        await drive.new_case(), [*REVIEW, ("boss", "submit", submission("USA")), ACCEPT]
    )
    to_canada = [*REVIEW, ("boss", "submit", submission("CAN"))]
    await drive.run(await drive.new_case(), to_canada)
    panama = [*to_canada, ("worker", "request_transit", {"transit_country": "PAN"})]
    await drive.run(await drive.new_case(), [*panama, ("pan", "authorise_transit", {})])
    await drive.run(
        await drive.new_case(),
        [*REVIEW, ("boss", "submit", submission("USA")), REQUEST_CRI, AUTHORISE_CRI],
    )
    await drive.run(await drive.new_case(), [*IN_TRANSIT, ACCEPT_SPLIT])  # an open split
    users = identities(c)
    users["admin"] = await make.user("admin")
    users["manager"] = await make.user("manager")
    return users


def auth_file(folder: Path, users: dict[str, TestUser]) -> Path:
    """A Web Fuzzing Commons auth document: one entry per user, with its bearer token."""
    document = {
        "schemaVersion": "0.2.0",
        "auth": [
            {
                "name": name,
                "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {user.token}"}],
            }
            for name, user in users.items()
        ],
    }
    path = folder / "auth.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
async def fuzz_target(migrated: Settings, drive: Driver, make: Factory, tmp_path: Path) -> Any:
    users = await seed(drive, make)
    spare = await make.user("caseworker")
    server = start_server(
        migrated.database_url,
        tmp_path / "server",
        workers=1,
        # endpoints at the hooks' closed port; the fuzzing is about the HTTP contract, so
        # the server delivers nothing (tests/test_webhooks*.py test delivery)
        extra_env={"PTA_WEBHOOK_ALLOW_PRIVATE": "true", "PTA_WEBHOOK_POLL_SECONDS": "0"},
    )
    env = {
        **os.environ,
        "PTA_FUZZ_AUTH": str(auth_file(tmp_path, users)),
        "PTA_FUZZ_PROTECTED_USERS": ",".join(str(u.id) for u in users.values()),
        "PTA_FUZZ_SPARE_USER": str(spare.id),
        "PTA_FUZZ_WEBHOOK_USER": str(users["supervisor"].id),
        "PTA_FUZZ_BASE_URL": server.url,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
    }
    try:
        yield server, env, tmp_path
    finally:
        server.stop()


def run_schemathesis(
    server: LiveServer, env: dict[str, str], folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [
        *schemathesis_command(),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--no-color",
        "--request-timeout",
        "30",
        # How fast hypothesis generates data depends on how loaded the machine is, and dates
        # are drawn over ten thousand years then kept to 1900…2100 (the schemas' pattern):
        # neither is a finding about the service.
        "--suppress-health-check=too_slow,filter_too_much",
        "--report",
        "junit",
        "--report-dir",
        str(folder / "report"),
        *args,
    ]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def verdict(done: subprocess.CompletedProcess[str], server: LiveServer) -> str:
    return (
        f"schemathesis exited {done.returncode}\n{done.stdout[-20000:]}\n{done.stderr[-3000:]}"
        f"\n--- server ---\n{server.output()[-3000:]}"
    )


async def test_every_operation_with_all_checks(fuzz_target: Any) -> None:
    server, env, folder = fuzz_target
    started = time.monotonic()
    done = run_schemathesis(server, env, folder)
    assert done.returncode == 0, verdict(done, server)
    assert "Tested: 20" in done.stdout or "Tested:" in done.stdout, done.stdout[-3000:]
    assert time.monotonic() - started < 300


async def test_officers_never_get_each_others_cases_object_level_authorization(
    fuzz_target: Any,
) -> None:
    server, env, folder = fuzz_target
    done = run_schemathesis(
        server,
        env,
        folder,
        "--auth-wfc-user",
        "resettlement_officer_usa",
        "--include-path-regex",
        "^/api/v1/cases",
        "--exclude-method",
        "POST",
        "--exclude-method",
        "PATCH",
    )
    assert done.returncode == 0, verdict(done, server)


# The same rule without chance -----------------------------------------------------------------
def case_operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the document that takes a case id."""
    paths = app.openapi()["paths"]
    found = [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{case_id}" in path
        for method in operations
    ]
    assert len(found) >= 4, found
    return found


def stranger_request(
    method: str, path: str, case: dict[str, Any], stranger: TestUser
) -> dict[str, Any]:
    """A request the stranger's role could send about a case it could see: only the case's
    scope can refuse it (api.md: 404 comes before 403, 428/412 and 409)."""
    headers = {**stranger.headers, "If-Match": f'"{case["version"]}"'}
    url = path.replace("{case_id}", case["id"]).replace("{member_id}", case["members"][0]["id"])
    if method == "GET":
        return {"method": method, "url": url, "headers": stranger.headers}
    if method == "PATCH":
        return {"method": method, "url": url, "headers": headers, "json": {"pathway": "transit"}}
    if path.endswith("/transitions"):
        if stranger.role == "resettlement_officer":
            body: dict[str, Any] = {"action": "decide", "decision": "accepted"}
        else:
            body = {"action": "extend_transit", "authorised_until": "2099-01-01"}
        return {"method": method, "url": url, "headers": headers, "json": body}
    raise AssertionError(f"no stranger's request written for {method} {path}")


async def test_every_case_operation_is_404_to_another_countrys_officer(
    app: FastAPI, client: httpx.AsyncClient, drive: Driver
) -> None:
    c = drive.cast
    usa_cri = await drive.run(await drive.new_case(), IN_TRANSIT)
    can_pan = await drive.run(
        await drive.new_case(),
        [
            *REVIEW,
            ("boss", "submit", submission("CAN")),
            ("worker", "request_transit", {"transit_country": "PAN"}),
            ("pan", "authorise_transit", {}),
        ],
    )
    pairs = [
        (c.usa, c.can, usa_cri),
        (c.can, c.usa, can_pan),
        (c.cri, c.pan, usa_cri),
        (c.pan, c.cri, can_pan),
        (c.usa, c.pan, usa_cri),
        (c.pan, c.usa, can_pan),
    ]
    operations = case_operations(app)
    for owner, stranger, case in pairs:
        mine = await client.get(f"/api/v1/cases/{case['id']}", headers=owner.headers)
        assert mine.status_code == 200, (owner.username, mine.text)
        for method, path in operations:
            answer = await client.request(**stranger_request(method, path, case, stranger))
            assert answer.status_code == 404, (stranger.username, method, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "not_found"
        listed = await client.get("/api/v1/cases?limit=200", headers=stranger.headers)
        assert case["id"] not in listed.text
        exported = await client.get("/api/v1/cases/export", headers=stranger.headers)
        assert exported.status_code == 200 and case["reference"] not in exported.text
    # and nothing changed
    for case in (usa_cri, can_pan):
        assert (await drive.get(case["id"]))["version"] == case["version"]


# Every answer declared -------------------------------------------------------------------------
def declared(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if status.isdigit()}


def test_every_status_the_service_gives_is_declared_with_the_problem_schema(app: FastAPI) -> None:
    """401, 403, 404, 409, 412, 413, 422, 428, 429 and 503 wherever they can happen (the
    fuzzing's status_code_conformance check compares this with what the service answers)."""
    document = app.openapi()
    seen: set[int] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            statuses = declared(operation)
            seen |= statuses
            if path.startswith("/api/v1/"):
                required = {422, 500, 503}
                if path != "/api/v1/auth/token":
                    required |= {401}
                else:
                    required |= {401, 429}
                if path not in ("/api/v1/me", "/api/v1/auth/token"):
                    required |= {403}
                if "requestBody" in operation:
                    required |= {413}
                if "{" in path:
                    required |= {404}
                headers = {
                    p["name"] for p in operation.get("parameters", []) if p["in"] == "header"
                }
                if "If-Match" in headers:
                    required |= {409, 412, 428}
                assert required <= statuses, (where, sorted(required - statuses))
            for status in statuses:
                if status < 400:
                    continue
                content = operation["responses"][str(status)].get("content", {})
                schema = content.get("application/problem+json", {}).get("schema", {})
                assert schema.get("$ref") == PROBLEM, (where, status, content)
    assert document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert {401, 403, 404, 409, 412, 413, 422, 428, 429, 503} <= seen
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(problem["properties"])
