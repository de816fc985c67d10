"""What a new user meets when something is wrong, in real ``pta`` processes: one line that says
what is wrong and what to run, exit status 2, never a traceback; under ``pta serve`` that line
is JSON with the reason. Also the CLI's own surface: --version, --help, users list and
set-password, .env files, misspelt variables, the port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli import build_parser
from app.config import Settings
from tests.live_server import free_port
from tests.test_migrations import empty_database  # noqa: F401 (a fixture)

PTA = [sys.executable, "-m", "app.cli"]
KEY = "cli-errors-test-secret-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
#: every command a new user may run first, each of which needs a usable database
COMMANDS = [
    ["report", "funnel"],
    ["users", "list"],
    ["users", "create", "someone", "--role", "caseworker", "--password-stdin"],
    ["users", "set-password", "someone", "--password-stdin"],
    ["demo", "load"],
    ["db", "upgrade"],
    ["db", "current"],
    ["serve", "--port", "1"],
]


def pta(
    args: list[str], cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PTA_")}
    return subprocess.run(
        PTA + args,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), "PTA_SECRET_KEY": KEY, **env},
        timeout=60,
        check=False,
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit status 2 and one line (JSON with ``reason`` under serve) naming each word."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Value error" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if lines and lines[0].startswith("{"):  # pta serve: JSON lines; the last one says why
        entries = [json.loads(line) for line in lines]
        assert entries[-1]["level"] == "error"
        assert entries[-1]["message"] in ("configuration refused", "database unusable")
        reason: str = entries[-1]["reason"]
    else:
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error: ")
        reason = lines[0]
    for word in words:
        assert word in reason, reason
    return reason


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://x", ["PTA_DATABASE_URL", "mysql://", "postgresql://"]),
        ("postgresql://[bad", ["PTA_DATABASE_URL", "not a database URL"]),
        ("nonsense", ["PTA_DATABASE_URL", "not a database URL"]),
        ("postgresql://u@127.0.0.1:{refused}/x", ["nothing answers at 127.0.0.1:", "PTA_"]),
    ],
    ids=["mysql", "malformed", "not-a-url", "refused-port"],
)
def test_a_bad_database_url_is_one_line(
    tmp_path: Path, command: list[str], url: str, words: list[str]
) -> None:
    with socket.socket() as held:  # bound, never listening: a refused port no one can take
        held.bind(("127.0.0.1", 0))
        refused = held.getsockname()[1]
        done = pta(command, tmp_path, {"PTA_DATABASE_URL": url.format(refused=refused)}, "x\n")
    assert_one_clear_line(done, *words)
    assert list(tmp_path.iterdir()) == []  # nothing created


def _server(settings: Settings) -> str | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql", database="postgres").render_as_string(False)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_database_that_does_not_exist_is_one_line(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    server = _server(settings)
    if server is None:
        pytest.skip("needs a PostgreSQL server: runs with TEST_DATABASE_URL=postgresql://…")
    missing = server.rsplit("/", 1)[0] + "/pta_no_such_database_17"
    done = pta(command, tmp_path, {"PTA_DATABASE_URL": missing}, "x\n")
    assert_one_clear_line(done, "'pta_no_such_database_17' does not exist", "createdb")


@pytest.mark.parametrize("command", COMMANDS[:5], ids=" ".join)
def test_an_unmigrated_database_says_run_db_upgrade(
    empty_database: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    command: list[str],
) -> None:
    """An empty PostgreSQL database, or (SQLite) a file that does not exist yet."""
    folder = tmp_path / "work"
    folder.mkdir()
    for env in ({"PTA_DATABASE_URL": empty_database}, {}):  # {}: the default ./pta.db
        done = pta(command, folder, env, "a good long password\n")
        assert_one_clear_line(done, "pta db upgrade")
        assert list(folder.iterdir()) == []  # no pta.db appears in the folder
    path = make_url(empty_database).database
    assert empty_database.startswith("postgres") or not Path(str(path)).exists()


def test_pydantic_wording_stays_out_of_messages(migrated: Settings, tmp_path: Path) -> None:
    env = {"PTA_DATABASE_URL": migrated.database_url}
    args = ["users", "create", "olga", "--role", "transit_officer", "--password-stdin"]
    done = pta(args, tmp_path, env, "a good long password\n")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: country is required for the transit_officer role"
    done = pta(["serve"], tmp_path, {"PTA_PORT": "eighty"})
    assert_one_clear_line(done, "PTA_PORT: ", "integer")


def test_a_port_in_use_is_one_line(migrated: Settings, tmp_path: Path) -> None:
    """The first thing a new user meets when port 8000 is taken: what to change, exit 2 (not
    uvicorn's bind error and exit 3)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PTA_DATABASE_URL": migrated.database_url, "PTA_PORT": str(port)}
        done = pta(["serve"], tmp_path, env)
    reason = assert_one_clear_line(done, f"port {port} on 127.0.0.1 is already in use", "--port")
    assert "PTA_PORT" in reason and "make run PORT=" in reason
    assert "uvicorn" not in done.stderr
    done = pta(["serve", "--port", "99999"], tmp_path, env)
    assert done.returncode == 2 and "a number from 1 to 65535" in done.stderr.splitlines()[-1]


def test_a_misspelt_variable_names_the_closest_setting(tmp_path: Path) -> None:
    done = pta(["db", "current"], tmp_path, {"PTA_DATABSE_URL": "x", "PTA_DATABASE_URL": "y"})
    first = done.stderr.splitlines()[0]
    assert first == (
        "warning: PTA_DATABSE_URL is not a setting and is ignored: did you mean PTA_DATABASE_URL?"
    )


def test_a_dot_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PTA_DATABASE_URL=mysql://from-the-dot-env\nPTA_PROT=1\n")
    done = pta(["db", "current"], tmp_path, {})
    assert "did you mean PTA_PORT?" in done.stderr  # .env names are checked too
    assert "mysql://" in done.stderr.splitlines()[-1] and done.returncode == 2
    # the environment wins over the file
    done = pta(["db", "current"], tmp_path, {"PTA_DATABASE_URL": "sqlite:///./x.db"})
    assert done.returncode == 0, done.stderr


def test_version() -> None:
    done = subprocess.run([*PTA, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "pta 0.1.0"


def _subcommands(parser: object) -> Iterator[tuple[str, object]]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for deeper, subsub in _subcommands(sub):
                    yield f"{name} {deeper}", subsub


def test_every_option_of_every_command_is_described() -> None:
    import argparse

    for name, parser in _subcommands(build_parser()):
        assert isinstance(parser, argparse.ArgumentParser)
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                assert action.help, f"pta {name} {action.option_strings[0]} has no --help text"
    done = subprocess.run([*PTA, "serve", "--help"], capture_output=True, text=True, check=False)
    assert "PTA_PORT" in done.stdout and "PTA_HOST" in done.stdout and "worker" in done.stdout


async def test_users_list_and_set_password(
    migrated: Settings, engine: AsyncEngine, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    env = {"PTA_DATABASE_URL": migrated.database_url, "PTA_SECRET_KEY": migrated.signing_key()}
    old, new = "the first long password", "the second long password"
    create = ["users", "create", "olga", "--role", "transit_officer", "--country", "CRI"]
    assert pta([*create, "--password-stdin"], tmp_path, env, old + "\n").returncode == 0
    listed = pta(["users", "list"], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["username", "role", "country", "active", "id"]
    assert row.split()[:4] == ["olga", "transit_officer", "CRI", "yes"]
    signed_in = await client.post("/api/v1/auth/token", data={"username": "olga", "password": old})
    bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    too_short = pta(["users", "set-password", "olga", "--password-stdin"], tmp_path, env, "short\n")
    assert too_short.returncode == 2 and too_short.stderr.startswith("error: password: ")
    nobody = pta(["users", "set-password", "nobody", "--password-stdin"], tmp_path, env, new)
    assert nobody.returncode == 1 and "No user named 'nobody'" in nobody.stderr
    done = pta(["users", "set-password", "olga", "--password-stdin"], tmp_path, env, new + "\n")
    assert done.returncode == 0, done.stderr

    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401  # tokens end
    for password, status in ((old, 401), (new, 200)):
        answer = await client.post(
            "/api/v1/auth/token", data={"username": "olga", "password": password}
        )
        assert answer.status_code == status


def test_serve_listens_on_pta_port_and_says_where(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*PTA, "serve"],
        cwd=tmp_path,
        env={**os.environ, "PTA_PORT": str(port), "PTA_DATABASE_URL": "sqlite:///./pta.db"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("pta serve did not listen on PTA_PORT")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    serving = [json.loads(line) for line in output.splitlines() if '"serving"' in line]
    assert serving[0]["url"] == f"http://127.0.0.1:{port}" and serving[0]["port"] == port


def test_make_run_takes_port_and_host() -> None:
    done = subprocess.run(
        ["make", "-n", "run", "PORT=8123", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "PTA_HOST=0.0.0.0 PTA_PORT=8123 .venv/bin/pta demo load --if-empty" in done.stdout
    assert ".venv/bin/pta serve --host 0.0.0.0 --port 8123" in done.stdout
    # without them, PTA_HOST/PTA_PORT (the environment or .env) decide, as for pta serve itself
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    plain = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert ".venv/bin/pta demo load --if-empty" in plain and ".venv/bin/pta serve" in plain
