"""A real ``pta serve`` subprocess for the reliability and security tests (schemathesis, races,
outage, logs): started on a given database and port range, everything it writes kept in files,
stopped by its own process group."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
#: this suite's port range on the test machine (helpers elsewhere use other ranges)
PORTS = range(18400, 18450)


def free_port(ports: range = PORTS) -> int:
    """A free port of the range, tried from a random point in it: two suites running at once
    (or a server still starting, which looks free) rarely pick the same one."""
    offset = random.randrange(len(ports))
    for step in range(len(ports)):
        port: int = ports[(offset + step) % len(ports)]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def pta_command() -> list[str]:
    script = Path(sys.executable).with_name("pta")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def run_pta(
    database_url: str, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """One ``pta`` command on ``database_url``, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PTA_", "PROMETHEUS_"))}
    env |= {"PTA_DATABASE_URL": database_url, "PTA_SECRET_KEY": SECRET, **(extra_env or {})}
    return subprocess.run(
        [*pta_command(), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    url: str
    folder: Path
    env: dict[str, str] = field(repr=False)

    def output(self) -> str:
        """Everything the process wrote so far, stdout then stderr."""
        return "\n".join(
            (self.folder / name).read_text(errors="replace")
            for name in ("stdout", "stderr")
            if (self.folder / name).exists()
        )

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def crash(self) -> None:
        """Every process of the server killed at once, as a power cut would (no shutdown)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_server(
    database_url: str,
    folder: Path,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    ready_path: str = "/readyz",
    ports: range = PORTS,
) -> LiveServer:
    """``pta serve`` (which migrates first) on ``database_url``; returns once it is ready."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port(ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PTA_", "PROMETHEUS_"))}
    env |= {
        "PTA_DATABASE_URL": database_url,
        "PTA_SECRET_KEY": SECRET,
        "PTA_LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    command = [*pta_command(), "serve", "--port", str(port), "--workers", str(workers)]
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", folder, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pta serve stopped:\n{server.output()[-4000:]}")
        try:
            if httpx.get(server.url + ready_path, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"pta serve did not become ready:\n{server.output()[-4000:]}")


@contextmanager
def running_server(database_url: str, folder: Path, **kwargs: Any) -> Iterator[LiveServer]:
    server = start_server(database_url, folder, **kwargs)
    try:
        yield server
    finally:
        server.stop()
