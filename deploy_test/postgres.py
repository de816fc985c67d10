"""PostgreSQL clusters in temporary directories, each on its own port, run as the ``postgres``
system user (PostgreSQL refuses to run as root) with Debian's binaries."""

from __future__ import annotations

import glob
import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deploy_test.procs import DeployTestError, Process, Registry, run, wait_for

SUPERUSER = "postgres"  # the test's own superuser, reached only over the cluster's socket


def bindir() -> Path:
    """Debian's PostgreSQL binaries: pg_config's, else the newest /usr/lib/postgresql/*/bin."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = Path(run([pg_config, "--bindir"]).stdout.strip())
        if (found / "initdb").exists():
            return found
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    if not versions:
        raise DeployTestError("no PostgreSQL server binaries (apt-get install postgresql)")
    return Path(versions[-1])


def as_postgres(command: Sequence[str]) -> list[str]:
    """Run as the postgres system user when we are root (CI is), as ourselves otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


@dataclass
class Cluster:
    name: str
    data: Path
    port: int
    socket_dir: Path
    registry: Registry
    bin: Path = field(default_factory=bindir)
    process: Process | None = None

    def tool(self, name: str, *args: str) -> list[str]:
        return as_postgres([str(self.bin / name), *args])

    def initdb(self) -> None:
        run(
            self.tool(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=reject",
            )
        )

    def configure(self, settings: str, hba: str) -> None:
        """The guide's settings appended to postgresql.conf; pg_hba.conf: the test's socket
        line for its superuser, then the guide's lines."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# docs/deployment.md\n" + settings)
        (self.data / "pg_hba.conf").write_text(
            f"local all {SUPERUSER} trust\nlocal replication {SUPERUSER} trust\n" + hba
        )

    def start(self, timeout: float = 120) -> None:
        """``postgres`` in the foreground (its pid is the process's), on this port and socket."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        give_to_postgres(self.socket_dir)
        self.process = self.process or Process(
            f"postgres-{self.name}",
            self.tool(
                "postgres",
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                f"unix_socket_directories={self.socket_dir}",
            ),
            self.data.parent / f"{self.name}.log",
            stop_signal=signal.SIGINT,  # fast shutdown: roll back and stop
        )
        self.registry.start(self.process)
        wait_for(f"PostgreSQL {self.name} to accept connections", self.accepting, timeout, 0.2)

    def accepting(self) -> bool:
        if self.process is None or not self.process.running():
            raise DeployTestError(f"PostgreSQL {self.name} stopped:\n{self.log()[-3000:]}")
        ready = run(
            [str(self.bin / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)],
            check=False,
        )
        return ready.returncode == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=60)

    def log(self) -> str:
        return self.process.output() if self.process else ""

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the test's superuser over the socket; unaligned rows, ``|`` between."""
        done = run(
            self.tool(
                "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-f",
                "-",
            ),
            stdin=sql,
        )
        return done.stdout.strip()

    def rows(self, sql: str, database: str = "pta") -> list[list[str]]:
        out = self.psql(sql, database)
        return [line.split("|") for line in out.splitlines() if line]

    def value(self, sql: str, database: str = "pta") -> str:
        return self.psql(sql, database)

    def url(self, role: str, password: str, database: str = "pta") -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"
