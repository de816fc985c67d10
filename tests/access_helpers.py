"""Shared by the access tests: one user per role (officers of USA and CRI, plus officers of
another state and another transit country), and cases built over HTTP into each situation of
the policy table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import Factory, TestUser

#: The officers under test act for these countries; the "elsewhere" cases use the others.
HOME_STATE, OTHER_STATE = "USA", "CAN"
HOME_TRANSIT, OTHER_TRANSIT = "CRI", "PAN"

ROLES = ("caseworker", "supervisor", "resettlement_officer", "transit_officer", "manager", "admin")

SUBMISSION = {
    "submission_priority": "urgent",
    "primary_category": "legal_physical_protection_needs",
    "secondary_category": "women_girls_at_risk",
}

Json = dict[str, Any]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def later(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def without(body: Json, *keys: str) -> Json:
    return {key: value for key, value in body.items() if key not in keys}


@dataclass
class Cast:
    caseworker: TestUser
    supervisor: TestUser
    resettlement_officer: TestUser  # HOME_STATE
    transit_officer: TestUser  # HOME_TRANSIT
    manager: TestUser
    admin: TestUser
    other_state: TestUser  # resettlement officer of OTHER_STATE
    other_transit: TestUser  # transit officer of OTHER_TRANSIT

    def role(self, role: str) -> TestUser:
        user: TestUser = getattr(self, role)
        return user


async def cast(make: Factory) -> Cast:
    return Cast(
        caseworker=await make.user("caseworker"),
        supervisor=await make.user("supervisor"),
        resettlement_officer=await make.user("resettlement_officer", HOME_STATE),
        transit_officer=await make.user("transit_officer", HOME_TRANSIT),
        manager=await make.user("manager"),
        admin=await make.user("admin"),
        other_state=await make.user("resettlement_officer", OTHER_STATE),
        other_transit=await make.user("transit_officer", OTHER_TRANSIT),
    )


class Builder:
    """Cases walked over HTTP into a situation; each returns the case as UNHCR sees it."""

    def __init__(self, client: httpx.AsyncClient, make: Factory, people: Cast) -> None:
        self.client, self.make, self.people = client, make, people

    async def fresh(self, case: Json) -> Json:
        response = await self.client.get(
            f"/api/v1/cases/{case['id']}", headers=self.people.caseworker.headers
        )
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    async def pending_review(self, **overrides: Any) -> Json:
        worker = self.people.caseworker
        case = await self.make.case(worker, **overrides)
        case = await self.make.act(worker, case, "start_assessment")
        return await self.make.act(worker, case, "request_review")

    async def submitted(self, state: str = HOME_STATE, **overrides: Any) -> Json:
        case = await self.pending_review(**overrides)
        return await self.make.act(
            self.people.supervisor, case, "submit", resettlement_country=state, **SUBMISSION
        )

    async def in_transit(self, transit: str = HOME_TRANSIT, state: str = HOME_STATE) -> Json:
        officer = self.people.transit_officer
        if transit != HOME_TRANSIT:
            officer = self.people.other_transit
        case = await self.submitted(state)
        case = await self.make.act(
            self.people.caseworker, case, "request_transit", transit_country=transit
        )
        case = await self.make.act(officer, case, "authorise_transit")
        await self.make.act(officer, case, "record_transit_entry", entered_at=today())
        return await self.fresh(case)

    async def closed(self) -> Json:
        case = await self.in_transit()
        return await self.make.act(self.people.supervisor, case, "close", reason="lost_contact")

    async def situation(self, name: str) -> Json:
        """The six situations of the policy table, seen from the officers under test."""
        if name == "not_submitted":
            return await self.pending_review()
        if name == "submitted_here":
            return await self.submitted(HOME_STATE)
        if name == "submitted_elsewhere":
            return await self.submitted(OTHER_STATE)
        if name == "in_transit_here":
            return await self.in_transit(HOME_TRANSIT)
        if name == "in_transit_elsewhere":
            return await self.in_transit(OTHER_TRANSIT)
        if name == "closed":
            return await self.closed()
        raise ValueError(name)
