"""4. Webhook deliveries across replicas: a receiver on 127.0.0.1 (the tests' own, which checks
signatures with the standardwebhooks library) and an endpoint subscribed through HAProxy for
a fresh caseworker, before the load of proof 1 — so that the four workers of both replicas
share its outbox while one replica is killed — then, after the load, every event written since
the subscription must have arrived, signed, and once: a message whose attempt was cut by the
kill may come twice (its lease ends and another worker sends it again), never anything else."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from deploy_test.client import bearer
from deploy_test.context import Proof
from deploy_test.procs import wait_for
from tests.webhook_receiver import Received, Receiver

#: how long the deliveries may take to settle after the load (a message cut by the kill
#: waits for its lease: twice the 10 s timeout, plus 5 s)
SETTLE_SECONDS = 90.0


@dataclass
class Subscription:
    receiver: Receiver
    endpoint_id: str
    secret: str
    after_event: int  # the newest event when it was made: only later ones are sent


def subscribe(proof: Proof) -> None:
    """4 (before 1). A receiver and one endpoint for a caseworker (who sees every case)."""
    receiver = Receiver()
    receiver.thread.start()  # a daemon thread: it ends with the run
    user_id, _ = proof.new_user("caseworker")
    after = int(proof.deployment.primary.value("SELECT coalesce(max(id), 0) FROM case_events"))
    with proof.http() as http:
        answer = http.post(
            "/api/v1/webhooks",
            headers=bearer(proof.admin_token),
            json={"user_id": user_id, "url": f"{receiver.url}/deploy-test"},
        )
    answer.raise_for_status()
    body = answer.json()
    proof.webhook = Subscription(receiver, str(body["id"]), body["secret"], after)
    proof.findings.add(
        "an endpoint subscribed through HAProxy (a caseworker's: every new event)",
        f"{answer.status_code}, after event {after}",
        answer.status_code == 201,
    )


def delivered(proof: Proof) -> None:
    """4. After the load: each event since the subscription arrived, verified, once."""
    found, subscription = proof.findings, proof.webhook
    if subscription is None:
        found.add("deliveries", "no endpoint was subscribed", False)
        return
    primary = proof.deployment.primary
    expected = {
        int(row[0])
        for row in primary.rows(f"SELECT id FROM case_events WHERE id > {subscription.after_event}")
    }
    receiver = subscription.receiver

    def arrived() -> set[int]:
        return {_event_id(r) for r in receiver.delivered()}

    try:
        took = wait_for("the deliveries to settle", lambda: expected <= arrived(), SETTLE_SECONDS)
        found.add("every event since the subscription arrived", f"{len(expected)} in {took:.1f} s")
    except Exception:
        missing = len(expected - arrived())
        found.add("every event since the subscription arrived", f"{missing} missing", False)
    received = receiver.delivered()
    unverified = [r.id for r in received if not _verifies(r, subscription.secret)]
    found.expect("messages whose signature standardwebhooks refuses", len(unverified), 0)
    per_event = Counter(_event_id(r) for r in received)
    ids_per_event = {e: {r.id for r in received if _event_id(r) == e} for e in per_event}
    found.expect(
        "events sent under two webhook-ids",
        sum(len(ids) > 1 for ids in ids_per_event.values()),
        0,
    )
    found.expect(
        "events nobody wrote (or from before the subscription)", len(set(per_event) - expected), 0
    )
    twice = sorted(event for event, n in per_event.items() if n > 1)
    first = {e: min(_wall(r) for r in received if _event_id(r) == e) for e in twice}
    # a cut attempt reached the receiver at most one timeout (10 s) before the kill
    killed = proof.killed_at
    near_kill = killed is not None and all(killed - 11 <= at <= killed + 1 for at in first.values())
    found.add(
        "messages delivered twice (only an attempt cut by the kill may be)",
        f"{len(twice)} of {len(per_event)}",
        not twice or near_kill,
    )
    lags = sorted(
        _wall(r) - datetime.fromisoformat(r.json()["data"]["at"]).timestamp() for r in received
    )
    if lags:
        found.add(
            "event → arrival at the receiver (median, 95th percentile, worst)",
            f"{statistics.median(lags):.2f} s, {lags[int(0.95 * (len(lags) - 1))]:.2f} s, "
            f"{lags[-1]:.1f} s",
            statistics.median(lags) < 5,
        )
    with proof.http() as http:
        listed = http.get(
            f"/api/v1/webhooks/{subscription.endpoint_id}/deliveries",
            headers=bearer(proof.admin_token),
            params={"limit": 200},
        )
    statuses = Counter(item["status"] for item in listed.json()["items"])
    found.add(
        "the endpoint's deliveries as the admin API lists them (newest 200)",
        dict(statuses),
        listed.status_code == 200 and set(statuses) == {"delivered"},
    )


def _event_id(received: Received) -> int:
    return int(received.json()["data"]["event_id"])


def _verifies(received: Received, secret: str) -> bool:
    try:
        received.verified(secret)
    except Exception:
        return False
    return True


#: time.monotonic() → time.time(), for the receiver's arrival stamps
_OFFSET = time.time() - time.monotonic()


def _wall(received: Received) -> float:
    return received.at + _OFFSET
