"""The topology docs/deployment.md recommends, on 127.0.0.1: a PostgreSQL primary with WAL
archiving, a streaming replica, PgBouncer in transaction mode, two ``pta serve`` replicas and
HAProxy in front. Every configuration file and command comes from the guide (deploy_test.guide);
what the test changes is named here: addresses, ports, paths, passwords."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from dataclasses import astuple, dataclass, field
from pathlib import Path

import httpx

from deploy_test import guide
from deploy_test.postgres import Cluster, as_postgres, give_to_postgres
from deploy_test.procs import DeployTestError, Process, Registry, run, wait_for

ROOT = guide.ROOT
PTA = str(Path(sys.executable).with_name("pta"))
BACKEND = "pta_replicas"  # the HAProxy backend of the guide
APPS = ("app1", "app2")  # its servers


@dataclass(frozen=True)
class Ports:
    """Every port of the topology, in one range of this machine's test ports."""

    primary: int
    standby: int
    pgbouncer: int
    restored: int
    app1: int
    app2: int
    restored_app: int
    haproxy: int
    stats: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(*(base + n for n in (1, 2, 3, 4, 11, 12, 13, 20, 21)))

    def app(self, name: str) -> int:
        return {"app1": self.app1, "app2": self.app2}[name]

    def every(self) -> list[int]:
        return list(astuple(self))


@dataclass
class Deployment:
    ports: Ports
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pta-deploy-")))
    registry: Registry = field(default_factory=Registry)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    apps: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.chmod(0o755)
        self.pg = self.root / "pg"  # everything PostgreSQL and PgBouncer own
        self.pg.mkdir()
        give_to_postgres(self.pg)
        self.archive = self.pg / "wal-archive"
        self.backup = self.pg / "base-backup"
        sockets = self.pg / "sockets"
        self.primary = Cluster(
            "primary", self.pg / "primary", self.ports.primary, sockets, self.registry
        )
        self.standby = Cluster(
            "standby", self.pg / "standby", self.ports.standby, sockets, self.registry
        )

    # -- URLs -----------------------------------------------------------------------------

    @property
    def owner_url(self) -> str:
        """Migrations and operator commands: the owner, straight to the primary."""
        return self.primary.url("pta_owner", self.password)

    @property
    def app_url(self) -> str:
        return f"postgresql://pta_app:{self.password}@127.0.0.1:{self.ports.pgbouncer}/pta"

    @property
    def reports_url(self) -> str:
        return self.standby.url("pta_reports", self.password)

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.ports.haproxy}"

    def app_base(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.app(name)}"

    def pta_env(self, database_url: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PTA_", "PROMETHEUS_"))}
        return (
            env
            | {
                "PTA_DATABASE_URL": database_url,
                "PTA_SECRET_KEY": self.secret_key,
                "PTA_LOG_LEVEL": "INFO",
            }
            | extra
        )

    def pta(
        self,
        *args: str,
        database_url: str | None = None,
        stdin: str | None = None,
        check: bool = True,
    ) -> str:
        done = run(
            [PTA, *args],
            env=self.pta_env(database_url or self.owner_url),
            cwd=ROOT,
            stdin=stdin,
            timeout=900,  # pta demo load: ≈ 30 s alone, minutes on a crowded machine
            check=check,
        )
        return done.stdout

    def pg_env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def guide_script(self, name: str, replacements: dict[str, str]) -> None:
        """Run one of the guide's shell blocks, with the test's values, as postgres."""
        script = guide.rendered(name, replacements)
        run(
            as_postgres(["bash", "-euo", "pipefail", "-c", script]),
            env=self.pg_env(),
            cwd=self.pg,
            timeout=300,
        )

    # -- building it ------------------------------------------------------------------------

    def build_primary(self) -> None:
        self.primary.initdb()
        self.archive.mkdir()
        give_to_postgres(self.archive)
        self.primary.configure(
            guide.rendered(
                "postgresql.conf",
                {"'10.0.0.10'": "'127.0.0.1'", "/var/lib/pta-wal": str(self.archive)},
            ),
            guide.rendered("pg_hba.conf", {"10.0.0.0/24": "127.0.0.1/32"}),
        )
        self.primary.start()
        self.primary.psql(guide.rendered("roles.sql", {"'…'": f"'{self.password}'"}))

    def base_backup(self) -> None:
        self.guide_script(
            "base-backup.sh",
            {"-h 10.0.0.10 -p 5432": self.primary_address, "/backup/pta-base": str(self.backup)},
        )

    @property
    def primary_address(self) -> str:
        return f"-h 127.0.0.1 -p {self.ports.primary}"

    def build_standby(self) -> None:
        self.guide_script(
            "make-standby.sh",
            {
                "-h 10.0.0.10 -p 5432": self.primary_address,
                "/var/lib/postgresql/15/replica": str(self.standby.data),
            },
        )
        self.standby.start()
        wait_for("the standby to stream", self.streaming, 60, 0.2)

    def streaming(self) -> bool:
        return (
            self.primary.value(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", "postgres"
            )
            == "1"
        )

    def build_pgbouncer(self) -> None:
        folder = self.pg / "pgbouncer"
        folder.mkdir()
        userlist = folder / "userlist.txt"
        userlist.write_text(f'"pta_app" "{self.password}"\n')
        userlist.chmod(0o600)
        ini = folder / "pgbouncer.ini"
        ini.write_text(
            guide.rendered(
                "pgbouncer.ini",
                {
                    "host=10.0.0.10 port=5432": f"host=127.0.0.1 port={self.ports.primary}",
                    "listen_addr = 10.0.0.4": "listen_addr = 127.0.0.1",
                    "listen_port = 6432": f"listen_port = {self.ports.pgbouncer}",
                    "/etc/pgbouncer/userlist.txt": str(userlist),
                },
            )
            + "; the test's own: no Unix socket (its default /tmp may be another's)\n"
            "unix_socket_dir =\n"
        )
        for path in (folder, userlist, ini):
            give_to_postgres(path)
        pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.pgbouncer = self.registry.start(
            Process("pgbouncer", as_postgres([pgbouncer, str(ini)]), self.pg / "pgbouncer.log")
        )
        wait_for("PgBouncer to connect", self.pgbouncer_answers, 30, 0.2)

    def pgbouncer_answers(self) -> bool:
        if not self.pgbouncer.running():
            raise DeployTestError(f"PgBouncer stopped:\n{self.pgbouncer.output()[-2000:]}")
        done = run(
            [str(self.primary.bin / "psql"), "-XAtq", "-c", "SELECT 1", self.app_url],
            env=self.pg_env(),
            check=False,
        )
        return done.stdout.strip() == "1"

    def app_process(self, name: str) -> Process:
        env = self.pta_env(
            self.app_url,
            PTA_PGBOUNCER="true",
            PTA_REPORTS_DATABASE_URL=self.reports_url,
            PTA_TRUSTED_PROXIES="127.0.0.1",
            PTA_POOL_SIZE="10",
            # proof 4's receiver is on 127.0.0.1; in production leave this false (§12)
            PTA_WEBHOOK_ALLOW_PRIVATE="true",
        )
        command = [
            PTA,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports.app(name)),
            "--workers",
            "2",
        ]
        return Process(name, command, self.root / f"{name}.log", env=env, cwd=ROOT)

    def start_app(self, name: str) -> float:
        """Start (or restart) one replica; the seconds until its /readyz says 200."""
        process = self.apps.setdefault(name, self.app_process(name))
        self.registry.start(process)
        return wait_for(f"{name} to be ready", lambda: self.app_ready(name), 180, 0.2)

    def app_ready(self, name: str) -> bool:
        if not self.apps[name].running():
            raise DeployTestError(f"{name} stopped:\n{self.apps[name].output()[-3000:]}")
        try:
            answer = httpx.get(self.app_base(name) + "/readyz", timeout=2)
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    def build_haproxy(self) -> None:
        folder = self.root / "haproxy"
        folder.mkdir()
        cfg = folder / "haproxy.cfg"
        cfg.write_text(
            guide.rendered(
                "haproxy.cfg",
                {
                    "bind :443 ssl crt /etc/haproxy/pta.pem": self.front_bind,
                    "10.0.0.5:8000": f"127.0.0.1:{self.ports.app('app1')}",
                    "10.0.0.6:8000": f"127.0.0.1:{self.ports.app('app2')}",
                    # the test's own: which replica answered (HAProxy's own 502/503 included),
                    # and a log line per request (to stdout, kept in haproxy.log)
                    "default_backend pta_replicas": "default_backend pta_replicas\n"
                    "    http-after-response set-header X-Served-By %s",
                    "    maxconn 2000": "    maxconn 2000\n    log stdout format raw local0",
                    "    mode http": "    mode http\n    log global\n    option httplog",
                },
            )
            + f"\n# the test's own: server states for the proof\nlisten stats\n"
            f"    bind 127.0.0.1:{self.ports.stats}\n    stats enable\n    stats uri /stats\n"
        )
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        run([haproxy, "-c", "-q", "-f", str(cfg)])
        self.haproxy = self.registry.start(
            Process("haproxy", [haproxy, "-db", "-f", str(cfg)], self.root / "haproxy.log")
        )
        wait_for(
            "HAProxy to see both replicas up",
            lambda: all(s == "UP" for s in self.server_states().values()),
            30,
            0.2,
        )

    @property
    def front_bind(self) -> str:
        """Plain HTTP on loopback where the guide ends TLS on :443."""
        return f"bind 127.0.0.1:{self.ports.haproxy}"

    def server_states(self) -> dict[str, str]:
        """HAProxy's view of each replica: UP, DOWN, or on its way ("UP 1/2", "DOWN 1/2")."""
        try:
            answer = httpx.get(self.stats_url, timeout=2)
        except httpx.TransportError:
            return {}
        return parse_states(answer.text)

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.stats}/stats;csv"

    def replication_lag(self) -> tuple[float, int]:
        """The streaming replica's replay lag on the primary: seconds, and WAL bytes behind."""
        rows = self.primary.rows(
            "SELECT coalesce(extract(epoch FROM replay_lag), 0),"
            " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)"
            " FROM pg_stat_replication",
            "postgres",
        )
        if not rows:
            raise DeployTestError("the standby is not connected to the primary")
        return float(rows[0][0]), int(float(rows[0][1]))

    def stop(self, keep: bool = False) -> None:
        self.registry.stop_all()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


#: an HAProxy httplog line: backend/server, timers, status, bytes, cookies, termination state,
#: connection counts and retries ("+1": the request was redispatched to another server)
HAPROXY_LINE = re.compile(
    rf" {BACKEND}/(\S+) \S+ (-?\d+) \d+ \S+ \S+ (\S{{4}}) \d+/\d+/\d+/\d+/(\+?\d+) "
)


@dataclass(frozen=True)
class HaproxyLog:
    cut: dict[str, int]  # termination state → requests that ended abnormally
    redispatched: int  # requests whose replica refused the connection, sent to another


def read_haproxy_log(text: str) -> HaproxyLog:
    cut: dict[str, int] = {}
    redispatched = 0
    for match in HAPROXY_LINE.finditer(text):
        state, retries = match.group(3), match.group(4)
        if state[0] != "-":
            cut[state] = cut.get(state, 0) + 1
        redispatched += retries.startswith("+")
    return HaproxyLog(cut, redispatched)


def server_errors(app_log: str) -> list[str]:
    """The 5xx a replica answered itself, from its request log lines (method, route, status),
    each with the error type of the warning or error its worker logged just before, if any."""
    found: list[str] = []
    why: dict[object, str] = {}  # worker pid → the last warning's error type
    for line in app_log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        pid = entry.get("pid")
        if entry.get("level") in ("warning", "error") and entry.get("logger") != "pta.request":
            why[pid] = str(entry.get("error_type") or entry.get("message", ""))
        elif entry.get("logger") == "pta.request" and int(entry.get("status", 0)) >= 500:
            cause = why.pop(pid, "")
            found.append(
                f"{entry.get('method')} {entry.get('route')} {entry['status']}"
                + (f" ({cause})" if cause else "")
            )
    return found


def parse_states(stats_csv: str) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(stats_csv.lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == BACKEND and row["svname"] in APPS
    }
