"""Run the service under test (``pta serve``) against a benchmark database, and talk to it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.load import PASSWORD, PTA, ROOT

SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"  # noqa: S105


@dataclass
class Service:
    """One ``pta serve`` process group (master + workers) on 127.0.0.1:port."""

    url: str
    port: int
    workers: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        env = {
            **os.environ,
            "PTA_DATABASE_URL": self.url,
            "PTA_SECRET_KEY": os.environ.get("PTA_SECRET_KEY", SECRET_KEY),
            "PTA_TOKEN_MINUTES": "720",
            **self.env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [PTA, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.workers_args()],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pta serve exited; see {self.log_path}")
            try:
                ready = httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
                if ready and len(self.worker_pids()) >= self.workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"pta serve not ready after {timeout:.0f} s; see {self.log_path}")

    def workers_args(self) -> list[str]:
        return ["--workers", str(self.workers)]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The whole process group stopped (SIGSTOP) while the block runs: it serves nothing
        and runs no background work (webhook delivery) meanwhile."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.process.pid, signal.SIGCONT)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the master, or the master when it serves alone)."""
        if self.process is None:
            return []
        master = self.process.pid
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master and "resource_tracker" not in cmdline:
                children.append(int(entry.name))
        return sorted(children) or [master]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far."""
        ticks = 0
        for pid in self.worker_pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory(self) -> list[dict[str, int]]:
        """Per worker: resident set now and its peak (VmHWM), in kB."""
        out = []
        for pid in self.worker_pids():
            fields: dict[str, int] = {"pid": pid}
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        fields[key] = int(value.split()[0])
            except OSError:
                continue
            out.append(fields)
        return out

    def sign_in(self, username: str) -> str:
        if username not in self.tokens:
            answer = httpx.post(
                f"{self.base}/api/v1/auth/token",
                data={"username": username, "password": PASSWORD},
                timeout=30,
            )
            answer.raise_for_status()
            self.tokens[username] = answer.json()["access_token"]
        return self.tokens[username]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60)


def request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    answer = client.request(method, path, **kwargs)
    if answer.status_code >= 300:
        raise RuntimeError(f"{method} {path} → {answer.status_code}: {answer.text[:500]}")
    return answer
