"""The processes of the topology: each started in a process group of its own, its output kept
in a file, and stopped by its own id (never by name); a registry stops whatever is left."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class DeployTestError(RuntimeError):
    """Something the deployment test needs did not happen."""


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> float:
    """Poll ``check`` until it holds; the seconds it took. Bounded by ``timeout``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise DeployTestError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """A command that finishes: its output captured; a failure names the command and its output."""
    done = subprocess.run(
        list(command),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise DeployTestError(
            f"{' '.join(command[:3])} … exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return done


@dataclass
class Process:
    """One long-running process (and whatever it forks, in its process group)."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    #: the signal that stops it cleanly (PostgreSQL's fast shutdown is SIGINT)
    stop_signal: signal.Signals = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, stopped as one by its id
            )

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise DeployTestError(f"{self.name} was never started")
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL to the whole group: the crash of a host or container, workers and all."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.popen is not None
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 30) -> None:
        if not self.running():
            return
        assert self.popen is not None
        try:
            os.killpg(self.pid, self.stop_signal)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            pass

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Registry:
    """Every process the test started, stopped in the reverse order at the end."""

    processes: list[Process] = field(default_factory=list)

    def start(self, process: Process) -> Process:
        if process not in self.processes:
            self.processes.append(process)
        process.start()
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
