"""``make deploy-test``: build the topology, run the proofs, print one table, stop everything.

.venv/bin/python -m deploy_test [--keep] [--update-docs] [--port-base 18600]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from deploy_test import guide
from deploy_test.client import PASSWORD, Client, Ledger
from deploy_test.context import Proof
from deploy_test.findings import Findings
from deploy_test.proofs import STEPS
from deploy_test.topology import APPS, Deployment, Ports

OUT = Path(__file__).resolve().parent / "out"
ADMIN = "deploy_admin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy_test", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--update-docs", action="store_true", help="write the table into docs/deployment.md"
    )
    parser.add_argument(
        "--port-base", type=int, default=int(os.environ.get("DEPLOY_TEST_PORT_BASE", "18600"))
    )
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, a kill) unwinds like an error: every process stopped, files removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ports = Ports.from_base(args.port_base)
    check_tools_and_ports(ports)
    findings = Findings()
    deployment = Deployment(ports)
    started = time.monotonic()
    print(
        f"deploy-test: everything in {deployment.root}, ports {min(ports.every())}-"
        f"{max(ports.every())}",
        flush=True,
    )
    try:
        build(deployment)
        proof = Proof(deployment, findings, admin_token(deployment))
        for name, step in STEPS:
            findings.proof = name
            timed(name, partial(step, proof))
    except Exception as error:
        findings.proof = "the run"
        findings.add("stopped by", f"{type(error).__name__}: {error}"[:800], False)
    finally:
        deployment.stop(keep=args.keep)
    findings.proof = "6. the run"
    findings.add("wall time", f"{time.monotonic() - started:.0f} s")
    report(findings, update_docs=args.update_docs)
    return 0 if findings.ok else 1


def check_tools_and_ports(ports: Ports) -> None:
    for tool in ("haproxy", "pgbouncer"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            raise SystemExit(f"deploy-test needs Debian's {tool}: apt-get install -y {tool}")
    for port in ports.every():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise SystemExit(f"port {port} is taken: --port-base moves the range") from None


def timed(what: str, action: Callable[[], object]) -> None:
    print(f"== {what} …", flush=True)
    started = time.monotonic()
    action()
    print(f"   {what}: {time.monotonic() - started:.1f} s", flush=True)


def build(deployment: Deployment) -> None:
    timed("primary (initdb, WAL archiving, the guide's roles)", deployment.build_primary)
    timed("migrate as the owner, demo data, an admin", partial(seed, deployment))
    timed("base backup (for the restore drill)", deployment.base_backup)
    timed("streaming replica (pg_basebackup -R)", deployment.build_standby)
    timed("PgBouncer (transaction pooling)", deployment.build_pgbouncer)
    for app in APPS:
        timed(f"pta serve {app} (2 workers, through PgBouncer)", partial(deployment.start_app, app))
    timed("HAProxy (round robin, /readyz checks)", deployment.build_haproxy)


def seed(deployment: Deployment) -> None:
    deployment.pta("db", "upgrade")
    deployment.pta("demo", "load")
    deployment.pta(
        "users", "create", ADMIN, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )


def admin_token(deployment: Deployment) -> str:
    import asyncio

    async def sign_in() -> str:
        client = Client(deployment.front, Ledger())
        try:
            return await client.token(ADMIN)
        finally:
            await client.close()

    return asyncio.run(sign_in())


def report(findings: Findings, *, update_docs: bool) -> None:
    print(findings.text(), flush=True)
    OUT.mkdir(exist_ok=True)
    markdown = findings.markdown()
    (OUT / "last-run.md").write_text(markdown + "\n")
    if update_docs:
        guide.write_results(markdown)
    print(f"\nthe table is in {OUT / 'last-run.md'}{' and the guide' if update_docs else ''}")
    failed = sum(not row.ok for row in findings.rows)
    print(f"deploy-test: {len(findings.rows) - failed} passed, {failed} failed", flush=True)
