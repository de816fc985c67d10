"""5. The restore drill of docs/deployment.md §7: the base backup taken before the load plus
the archived WAL, restored into a fresh directory to a point in time between two known writes,
then checked as the guide says: the schema at head, the history's chains, the funnel."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

from deploy_test.client import bearer, new_case
from deploy_test.context import PROGRAMME_START, Proof, caught_up, funnel, stages
from deploy_test.postgres import Cluster
from deploy_test.procs import Process, wait_for
from deploy_test.topology import PTA, ROOT

STOPPED_AT = re.compile(r"recovery stopping before commit of transaction \d+, time ([^\n\"]+)")
GUIDE_TARGET = "'2026-11-27 07:09:00+00'"


def restore_drill(proof: Proof) -> None:
    found, deployment = proof.findings, proof.deployment
    _, worker = proof.new_user("caseworker")
    _, manager = proof.new_user("manager")
    worker_token, manager_token = proof.token(worker), proof.token(manager)
    today = _today()
    first, second = f"drill-{uuid.uuid4()}", f"drill-{uuid.uuid4()}"
    _create(proof, worker_token, first)
    caught_up(deployment)
    at_target = stages(funnel(proof, manager_token, today))
    time.sleep(1)
    target = (
        deployment.primary.value(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
            "postgres",
        )
        + "+00"
    )
    time.sleep(1)
    _create(proof, worker_token, second)
    segment = deployment.primary.value("SELECT pg_walfile_name(pg_switch_wal())", "postgres")
    wait_for(
        "the WAL of the second write to be archived",
        lambda: (
            deployment.primary.value(
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", "postgres"
            )
            >= segment
        ),
        60,
        0.1,
    )
    started = time.monotonic()
    restored = Cluster(
        "restored",
        deployment.pg / "restore",
        deployment.ports.restored,
        deployment.primary.socket_dir,
        deployment.registry,
    )
    deployment.guide_script(
        "restore.sh",
        {
            "/var/lib/postgresql/15/restore": str(restored.data),
            "/backup/pta-base": str(deployment.backup),
            "/var/lib/pta-wal": str(deployment.archive),
            GUIDE_TARGET: f"'{target}'",
        },
    )
    restored.start()
    try:
        wait_for(
            "the restored server to be promoted",
            lambda: restored.value("SELECT pg_is_in_recovery()", "postgres") == "f",
            120,
        )
        _check(proof, restored, target, (first, second), at_target, manager)
    finally:
        restored.stop()
    found.add(
        "recovery time (restore → first funnel answered)", f"{time.monotonic() - started:.1f} s"
    )


def _create(proof: Proof, token: str, marker: str) -> None:
    with proof.http() as http:
        answer = http.post(
            "/api/v1/cases",
            json=new_case(marker),
            headers=bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
        )
    answer.raise_for_status()


def _check(
    proof: Proof,
    restored: Cluster,
    target: str,
    markers: tuple[str, str],
    at_target: str,
    manager: str,
) -> None:
    found, deployment = proof.findings, proof.deployment
    reached = STOPPED_AT.search(restored.log())
    found.add(
        "restore point asked → recovery stopped before the commit of",
        f"{target} → {reached.group(1) if reached else 'no recovery stop in the log'}",
        reached is not None,
    )
    held = [
        restored.value(f"SELECT count(*) FROM cases WHERE referral_source = '{m}'") for m in markers
    ]
    found.expect("restored: the write before the point, the write after it", held, ["1", "0"])
    owner_url = restored.url("pta_owner", deployment.password)
    current = deployment.pta("db", "current", database_url=owner_url).strip()
    revision, _, head = current.removeprefix("current: ").partition("; newest: ")
    found.add("pta db current", current, bool(revision) and revision == head)
    verify = deployment.pta("audit", "verify", database_url=owner_url, check=False).strip()
    found.add("pta audit verify", verify[-300:] or "no output", verify.startswith("ok:"))
    app = Process(
        "restored-app",
        [PTA, "serve", "--host", "127.0.0.1", "--port", str(deployment.ports.restored_app)],
        deployment.root / "restored-app.log",
        cwd=ROOT,
        env=deployment.pta_env(restored.url("pta_app", deployment.password)),
    )
    deployment.registry.start(app)
    try:
        base = f"http://127.0.0.1:{deployment.ports.restored_app}"
        wait_for("pta serve on the restored database", lambda: _ready(proof, base), 60, 0.2)
        with proof.http(base) as http:
            token = proof.token(manager, base)
            answer = http.get(
                "/api/v1/reports/funnel",
                headers=bearer(token),
                params={"from": PROGRAMME_START, "to": _today()},
            )
        found.expect(
            "funnel on the restored database = the primary's at that point",
            stages(answer),
            at_target,
        )
    finally:
        app.stop()


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _ready(proof: Proof, base: str) -> bool:
    try:
        with proof.http(base) as http:
            return http.get("/readyz").status_code == 200
    except Exception:  # not listening yet
        return False
