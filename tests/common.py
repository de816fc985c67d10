"""What the test modules share: one cast of users, "today" as the service judges it, and what
every error answer must look like to a client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.factories import Factory, TestUser

#: A submission's fields but its state (the tests submit to several).
SUBMISSION: dict[str, Any] = {
    "submission_priority": "urgent",
    "primary_category": "legal_physical_protection_needs",
    "secondary_category": "women_girls_at_risk",
}

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """``application/problem+json`` with this status (and code), every field of the problem
    schema, and nothing of the inside: no stack trace, no SQL, no library names."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    assert set(body) >= PROBLEM_FIELDS, body
    text = response.text
    assert "Traceback" not in text and "SELECT" not in text and "sqlalchemy" not in text.lower()
    return body


def today() -> date:
    """ "Today" as the service judges it: the UTC date."""
    return datetime.now(UTC).date()


def days(n: int) -> str:
    """Today plus ``n`` days (negative: the past), as an ISO date."""
    return (today() + timedelta(days=n)).isoformat()


@dataclass
class Cast:
    """One user of each kind the tests need."""

    worker: TestUser  # caseworker: creates cases and requests review (drafted_by)
    boss: TestUser  # supervisor: submits, decides UNHCR-side matters
    boss2: TestUser  # a second supervisor
    usa: TestUser  # resettlement officer, USA
    can: TestUser  # resettlement officer, CAN
    aus: TestUser  # resettlement officer, AUS
    cri: TestUser  # transit officer, CRI
    pan: TestUser  # transit officer, PAN
    manager: TestUser
    admin: TestUser

    def resettlement(self, country: str) -> TestUser:
        return {"USA": self.usa, "CAN": self.can, "AUS": self.aus}[country]

    def transit(self, country: str) -> TestUser:
        return {"CRI": self.cri, "PAN": self.pan}[country]

    def role(self, role: str) -> TestUser:
        """The user of a role as the access tests name them (officers of USA and CRI)."""
        by_role = {
            "caseworker": self.worker,
            "supervisor": self.boss,
            "resettlement_officer": self.usa,
            "transit_officer": self.cri,
            "manager": self.manager,
            "admin": self.admin,
        }
        return by_role[role]


async def make_cast(make: Factory) -> Cast:
    return Cast(
        worker=await make.user("caseworker"),
        boss=await make.user("supervisor"),
        boss2=await make.user("supervisor"),
        usa=await make.user("resettlement_officer", "USA"),
        can=await make.user("resettlement_officer", "CAN"),
        aus=await make.user("resettlement_officer", "AUS"),
        cri=await make.user("transit_officer", "CRI"),
        pan=await make.user("transit_officer", "PAN"),
        manager=await make.user("manager"),
        admin=await make.user("admin"),
    )
