"""What every proof works with: the deployment, the findings, an admin's token, fresh users,
and the funnel read through HAProxy and counted on the primary."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from deploy_test.client import PASSWORD, bearer
from deploy_test.findings import Findings
from deploy_test.procs import wait_for
from deploy_test.topology import Deployment

if TYPE_CHECKING:
    from deploy_test.webhooks import Subscription

PROGRAMME_START = "2016-01-01"
STAGES = ("identified", "submitted", "in_transit", "resettled")
STAGE_COLUMNS = ("identified_at", "first_submitted_at", "transit_entered_at", "resettled_at")


@dataclass
class Proof:
    deployment: Deployment
    findings: Findings
    admin_token: str
    webhook: Subscription | None = None  # proof 4's endpoint, subscribed before proof 1
    killed_at: float | None = None  # time.time() when proof 1 killed its replica

    def http(self, base: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=base or self.deployment.front, timeout=30)

    def new_user(self, role: str) -> tuple[str, str]:
        """A fresh user (its id and name), created by the admin through HAProxy."""
        name = f"proof_{role}_{uuid.uuid4().hex[:8]}"
        with self.http() as http:
            answer = http.post(
                "/api/v1/users",
                headers=bearer(self.admin_token),
                json={"username": name, "password": PASSWORD, "role": role},
            )
        answer.raise_for_status()
        return str(answer.json()["id"]), name

    def token(self, name: str, base: str | None = None) -> str:
        with self.http(base) as http:
            answer = http.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


def recount(proof: Proof, today: str) -> list[dict[str, Any]]:
    """The funnel counted straight from the rows on the primary: each case at each milestone it
    reached in the period, and each member at each milestone it reached (members carry their
    own milestone dates: one added later, or moved by a split, counts from its own)."""

    def counts(table: str) -> list[str]:
        columns = ", ".join(
            f"count(*) FILTER (WHERE {c} BETWEEN '{PROGRAMME_START}' AND '{today}')"
            for c in STAGE_COLUMNS
        )
        return proof.deployment.primary.rows(f"SELECT {columns} FROM {table}")[0]

    cases, people = counts("cases"), counts("members")
    return [
        {"stage": stage, "cases": int(cases[i]), "people": int(people[i])}
        for i, stage in enumerate(STAGES)
    ]


def funnel(proof: Proof, token: str, today: str) -> httpx.Response:
    with proof.http() as http:
        return http.get(
            "/api/v1/reports/funnel",
            headers=bearer(token),
            params={"from": PROGRAMME_START, "to": today},
        )


def stages(answer: httpx.Response) -> str:
    """A funnel's stages as ``identified 1780/6069, …`` (cases/people)."""
    return shown(answer.json()["stages"])


def shown(stage_rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['stage']} {s['cases']}/{s['people']}" for s in stage_rows)


def caught_up(deployment: Deployment) -> tuple[float, int]:
    """Wait until the standby has replayed all the primary has written: seconds, bytes."""
    lsn = deployment.primary.value("SELECT pg_current_wal_lsn()", "postgres")
    behind = int(
        float(
            deployment.standby.value(
                f"SELECT pg_wal_lsn_diff('{lsn}', pg_last_wal_replay_lsn())", "postgres"
            )
        )
    )
    took = wait_for(
        "the standby to catch up",
        lambda: (
            deployment.standby.value(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'", "postgres")
            == "t"
        ),
        60,
        0.02,
    )
    return took, max(behind, 0)
