"""The ``pta`` command as an operator uses it, in real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

PTA = [sys.executable, "-m", "app.cli"]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PTA + args,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_users_create_prints_the_id_last_and_the_user_signs_in(
    migrated: Settings, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    env = {"PTA_DATABASE_URL": migrated.database_url, "PTA_SECRET_KEY": migrated.signing_key()}
    done = run(
        [
            "users",
            "create",
            "olga",
            "--role",
            "resettlement_officer",
            "--country",
            "CAN",
            "--password-stdin",
        ],
        env,
        stdin="twelve chars or more\n",
    )
    assert done.returncode == 0, done.stderr
    user_id = done.stdout.strip().splitlines()[-1]
    for line in done.stderr.strip().splitlines():
        json.loads(line)  # its log lines are JSON, on stderr
    token = await client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "twelve chars or more"}
    )
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["id"] == user_id and me.json()["country"] == "CAN"


@pytest.mark.parametrize(
    ("args", "password"),
    [
        (["users", "create", "short", "--role", "caseworker", "--password-stdin"], "too short"),
        (
            ["users", "create", "nocountry", "--role", "transit_officer", "--password-stdin"],
            "x" * 12,
        ),
        (
            [
                "users",
                "create",
                "extra",
                "--role",
                "manager",
                "--country",
                "USA",
                "--password-stdin",
            ],
            "x" * 12,
        ),
    ],
)
async def test_users_create_refuses_bad_input(
    migrated: Settings, engine: AsyncEngine, args: list[str], password: str
) -> None:
    env = {"PTA_DATABASE_URL": migrated.database_url, "PTA_SECRET_KEY": migrated.signing_key()}
    done = run(args, env, stdin=password + "\n")
    assert done.returncode != 0
    assert "error" in done.stderr


def test_serve_refuses_a_short_secret_key(tmp_path: Path) -> None:
    done = run(
        ["serve", "--port", str(free_port())],
        {"PTA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PTA_SECRET_KEY": "too-short"},
    )
    assert done.returncode == 2
    assert "at least 32 bytes" in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before touching the database


def test_serve_refuses_an_unknown_departure_requirement(tmp_path: Path) -> None:
    done = run(
        ["serve", "--port", str(free_port())],
        {
            "PTA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "PTA_DEPARTURE_REQUIREMENTS": "medical_clearance, visa",
        },
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()  # one line, naming the setting and the unknown item
    entry = json.loads(line)
    assert entry["message"] == "configuration refused"
    assert "PTA_DEPARTURE_REQUIREMENTS" in entry["reason"] and "visa" in entry["reason"]
    assert not (tmp_path / "x.db").exists()


def test_departure_requirements_are_a_subset_in_checklist_order() -> None:
    settings = Settings(departure_requirements=" travel_booked ,medical_clearance")
    assert settings.departure_requirements == ("medical_clearance", "travel_booked")
    assert Settings(departure_requirements="").departure_requirements == ()
    assert len(Settings().departure_requirements) == 6


def test_serve_on_postgresql_requires_a_key() -> None:
    done = run(
        ["serve"],
        {"PTA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PTA_SECRET_KEY": ""},
    )
    assert done.returncode == 2
    assert "PTA_SECRET_KEY is required" in done.stderr


def test_embedded_serve_migrates_generates_a_key_and_serves_docs(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PTA_DATABASE_URL": f"sqlite:///{tmp_path / 'pta.db'}"}
    env.pop("PTA_SECRET_KEY", None)
    server = subprocess.Popen(
        [*PTA, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        key = (tmp_path / "pta.db.key").read_text()
        assert len(key) >= 32 and (tmp_path / "pta.db.key").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    for line in output.strip().splitlines():
        json.loads(line)  # everything `pta serve` writes is JSON, one object per line
