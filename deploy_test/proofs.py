"""The proofs of issue 18, one step each, in the order they run. Each step adds its figures
to the findings; a figure that is not what it must be fails the run. Proof 4 (webhooks across
replicas, deploy_test/webhooks.py) subscribes before proof 1, so that its outbox is shared
while a replica is killed, and counts the deliveries after proof 3."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deploy_test.client import PASSWORD, bearer, new_case
from deploy_test.context import Proof, caught_up, funnel, recount, shown, stages
from deploy_test.drill import restore_drill
from deploy_test.exactly_once import count_writes
from deploy_test.load import run_load
from deploy_test.procs import wait_for
from deploy_test.topology import APPS, read_haproxy_log, server_errors
from deploy_test.webhooks import delivered, subscribe


def killed_replica(proof: Proof) -> None:
    """1. A replica killed with SIGKILL under load, and started again."""
    found, deployment = proof.findings, proof.deployment
    ledger, chaos = asyncio.run(run_load(deployment, proof.admin_token))
    if chaos.killed_at is not None:
        proof.killed_at = time.time() - ledger.now() + chaos.killed_at
    statuses = ", ".join(f"{n} × {s}" for s, n in ledger.statuses().most_common())
    found.add("requests through HAProxy (every attempt)", f"{len(ledger.attempts)} ({statuses})")
    writes = count_writes(deployment.primary, ledger)
    found.add(
        "writes acknowledged (creations + transitions)",
        f"{writes.acknowledged} ({len(ledger.created)} cases; "
        f"{ledger.replayed} answered by an Idempotency-Key replay)",
        writes.acknowledged > 0,
    )
    found.expect("acknowledged writes lost", writes.lost, 0)
    found.expect("writes applied twice", writes.duplicated, 0)
    found.expect("writes applied but never acknowledged", writes.unacknowledged, 0)
    found.expect("cases whose version is not the last one acknowledged", writes.wrong_version, 0)
    found.expect("requests the clients gave up on", len(ledger.gave_up), 0)
    found.expect(
        "unexpected answers (a 4xx, or a 2xx of the wrong kind)",
        "; ".join(ledger.unexpected[:3]) or 0,
        0,
    )
    # A request on the killed replica's connections reaches the client as HAProxy's 502 (no
    # answer had begun) or as a closed connection (HAProxy closes a keep-alive client
    # connection whose request died on a reused server connection, so that the client
    # retries): both only while the replica was dying, and HAProxy's log names the replica.
    failures = ledger.failures()
    on_dying = [
        a for a in failures if chaos.dying_window(a.at) and a.served_by in (chaos.victim, None)
    ]
    elsewhere = [a for a in failures if a not in on_dying]
    found.add(
        "5xx or broken connections seen by clients, on the killed replica's connections",
        _when(on_dying, chaos.killed_at),
    )
    found.expect(
        "5xx or broken connections seen by clients, anywhere else",
        _when(elsewhere, chaos.killed_at),
        "none",
    )
    seen = read_haproxy_log(deployment.haproxy.output())
    found.add(
        "requests HAProxy sent on to the other replica (connection refused)", seen.redispatched
    )
    found.add(
        "requests HAProxy logged as cut (termination state)",
        ", ".join(f"{n} × {state}" for state, n in seen.cut.items()) or "none",
    )
    found.expect(
        "5xx answered by the replicas themselves (their request logs)",
        {app: server_errors(deployment.apps[app].output()) for app in APPS},
        {app: [] for app in APPS},
    )
    if chaos.killed_at is not None and chaos.down_at is not None:
        found.add(
            f"HAProxy took {chaos.victim} out (kill → DOWN)",
            f"{chaos.down_at - chaos.killed_at:.2f} s",
        )
    else:
        found.add(f"HAProxy took {chaos.victim} out", "never", False)
    if chaos.restarted_at is not None and chaos.up_at is not None:
        found.add(
            f"HAProxy took {chaos.victim} back (restart → UP)",
            f"{chaos.up_at - chaos.restarted_at:.2f} s "
            f"(ready after {chaos.ready_after or 0:.1f} s)",
        )
        served = sum(
            1
            for a in ledger.attempts
            if a.served_by == chaos.victim
            and a.at > chaos.up_at
            and a.status is not None
            and a.status < 500
        )
        found.add(f"requests {chaos.victim} answered after it was back", served, served > 0)
    else:
        found.add(f"HAProxy took {chaos.victim} back", "never", False)
    found.add(
        f"{chaos.victim} as HAProxy saw it",
        " → ".join(f"{state} ({at:.1f} s)" for at, state in chaos.states),
    )
    worst = max(chaos.lag, key=lambda sample: sample[2], default=(0.0, 0.0, 0))
    found.add(
        "streaming replica lag during the load (worst sample)",
        f"{worst[1] * 1000:.0f} ms replay lag, {worst[2]} bytes behind ({len(chaos.lag)} samples)",
    )
    for problem in chaos.problems:
        found.add("during the load", problem, False)


def _when(attempts: list[Any], since: float | None) -> str:
    if not attempts:
        return "none"
    kinds = Counter(str(a.status or a.error) for a in attempts)
    what = ", ".join(f"{n} × {kind}" for kind, n in kinds.items())
    start = since or 0.0
    times = sorted(a.at - start for a in attempts)
    return f"{what}, {times[0]:+.2f} … {times[-1]:+.2f} s from the kill"


def shared_state(proof: Proof) -> None:
    """2. What every replica must agree on lives in the database."""
    found, deployment = proof.findings, proof.deployment
    _, victim = proof.new_user("caseworker")
    served: list[str] = []
    statuses: list[int] = []
    with proof.http() as http:
        for _ in range(6):
            answer = http.post(
                "/api/v1/auth/token", data={"username": victim, "password": "wrong-password-123"}
            )
            statuses.append(answer.status_code)
            served.append(answer.headers.get("x-served-by", "?"))
        right = http.post("/api/v1/auth/token", data={"username": victim, "password": PASSWORD})
    found.expect("six wrong passwords through HAProxy: answers", statuses, [401] * 5 + [429])
    found.expect("… served by", sorted(set(served)), sorted(APPS))
    found.expect("… then the right password", right.status_code, 429)
    found.add(
        "… Retry-After",
        answer.headers.get("retry-after", "missing"),
        "retry-after" in answer.headers,
    )
    user_id, name = proof.new_user("caseworker")
    token = proof.token(name, deployment.app_base("app1"))
    with proof.http(deployment.app_base("app2")) as app2:
        me = app2.get("/api/v1/me", headers=bearer(token))
        found.expect("a token signed by app1, on app2: GET /me", me.status_code, 200)
        with proof.http(deployment.app_base("app1")) as app1:
            started = time.monotonic()
            patched = app1.patch(
                f"/api/v1/users/{user_id}",
                headers=bearer(proof.admin_token),
                json={"active": False},
            )
            after = app2.get("/api/v1/me", headers=bearer(token))
            took = time.monotonic() - started
        found.expect("deactivated on app1: PATCH", patched.status_code, 200)
        found.expect(
            f"… its token on app2 right after ({took * 1000:.0f} ms)", after.status_code, 401
        )
    _idempotency_across(proof)


def _idempotency_across(proof: Proof) -> None:
    _, name = proof.new_user("caseworker")
    key = str(uuid.uuid4())
    answers = []
    for app in APPS:
        token = proof.token(name, proof.deployment.app_base(app))
        with proof.http(proof.deployment.app_base(app)) as http:
            answers.append(
                http.post(
                    "/api/v1/cases",
                    json=new_case(f"proof-{key}"),
                    headers=bearer(token, **{"Idempotency-Key": key}),
                )
            )
    first, retry = answers
    same = first.status_code == retry.status_code == 201 and (
        first.json()["id"] == retry.json()["id"]
    )
    found = proof.findings
    found.add(
        "one Idempotency-Key on app1 then app2: one case, replayed",
        f"{first.status_code}, {retry.status_code} "
        f"(Idempotent-Replayed: {retry.headers.get('idempotent-replayed')})",
        same and retry.headers.get("idempotent-replayed") == "true",
    )


def reports(proof: Proof) -> None:
    """3. Reports read from the streaming replica; the replica stopped; back."""
    found, deployment = proof.findings, proof.deployment
    _, manager = proof.new_user("manager")
    token = proof.token(manager)
    today = datetime.now(UTC).date().isoformat()
    took, behind = caught_up(deployment)
    found.add(
        "streaming replica caught up with the primary",
        f"in {took * 1000:.0f} ms ({behind} bytes behind when asked)",
    )
    answers = [funnel(proof, token, today) for _ in APPS]
    expected = shown(recount(proof, today))
    served = sorted(a.headers.get("x-served-by", "?") for a in answers)
    found.expect(
        f"funnel through HAProxy ({', '.join(served)}), cases/people",
        sorted(set(stages(a) for a in answers)),
        [expected],
    )
    found.add("… = a recount on the primary", expected)
    deployment.standby.stop()
    try:
        _while_standby_stopped(proof, token, today)
    finally:
        deployment.standby.start()
    wait_for("the standby to stream again", deployment.streaming, 60, 0.2)
    back = wait_for(
        "reports to answer again", lambda: funnel(proof, token, today).status_code == 200, 30, 0.2
    )
    found.add("standby started again: the funnel answers 200 after", f"{back:.1f} s")


def _while_standby_stopped(proof: Proof, token: str, today: str) -> None:
    found = proof.findings
    answers = [funnel(proof, token, today) for _ in APPS]
    with proof.http() as http:
        answers += [http.get("/api/v1/reports/transit", headers=bearer(token)) for _ in APPS]
    found.expect(
        "standby stopped: funnel and transit report, both replicas",
        [a.status_code for a in answers],
        [503] * 4,
    )
    found.expect(
        "… as problem+json, code",
        sorted(
            {
                (a.headers.get("content-type", ""), a.json().get("code") if a.content else None)
                for a in answers
            }
        ),
        [("application/problem+json", "service_unavailable")],
    )
    _, worker = proof.new_user("caseworker")
    key = str(uuid.uuid4())
    with proof.http() as http:
        headers = bearer(proof.token(worker), **{"Idempotency-Key": key})
        created = http.post("/api/v1/cases", json=new_case(f"proof-{key}"), headers=headers)
        read = http.get(created.headers.get("location", "/missing"), headers=headers)
    found.expect(
        "… meanwhile the case API: create, read",
        [created.status_code, read.status_code],
        [201, 200],
    )
    found.expect(
        "… and HAProxy keeps both replicas in",
        proof.deployment.server_states(),
        dict.fromkeys(APPS, "UP"),
    )
    deployment = proof.deployment
    deployment.apps["app2"].stop()
    took = deployment.start_app("app2")
    with proof.http(deployment.app_base("app2")) as app2:
        report = app2.get("/api/v1/reports/funnel", headers=bearer(token))
    found.expect(
        f"… app2 restarted meanwhile: ready after {took:.1f} s, its funnel",
        report.status_code,
        503,
    )
    wait_for(
        "HAProxy to take app2 back",
        lambda: deployment.server_states() == dict.fromkeys(APPS, "UP"),
        30,
        0.1,
    )


STEPS: list[tuple[str, Callable[[Proof], None]]] = [
    ("4. webhooks across replicas (subscribed before 1)", subscribe),
    ("1. killed replica under load", killed_replica),
    ("2. shared state across replicas", shared_state),
    ("3. reports from the streaming replica", reports),
    ("4. webhooks across replicas", delivered),
    ("5. restore drill", restore_drill),
]
