"""Shared by the access tests: one user per role (officers of USA and CRI, plus officers of
another state and another transit country), and cases built over HTTP into each situation of
the policy table."""

from __future__ import annotations

from typing import Any

import httpx

from tests.common import SUBMISSION as SUBMISSION
from tests.common import Cast, days
from tests.factories import Factory

#: The officers under test act for these countries; the "elsewhere" cases use the others.
HOME_STATE, OTHER_STATE = "USA", "CAN"
HOME_TRANSIT, OTHER_TRANSIT = "CRI", "PAN"

ROLES = ("caseworker", "supervisor", "resettlement_officer", "transit_officer", "manager", "admin")


Json = dict[str, Any]


def without(body: Json, *keys: str) -> Json:
    return {key: value for key, value in body.items() if key not in keys}


class Builder:
    """Cases walked over HTTP into a situation; each returns the case as UNHCR sees it."""

    def __init__(self, client: httpx.AsyncClient, make: Factory, people: Cast) -> None:
        self.client, self.make, self.people = client, make, people

    async def fresh(self, case: Json) -> Json:
        response = await self.client.get(
            f"/api/v1/cases/{case['id']}", headers=self.people.worker.headers
        )
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    async def pending_review(self, **overrides: Any) -> Json:
        worker = self.people.worker
        case = await self.make.case(worker, **overrides)
        case = await self.make.act(worker, case, "start_assessment")
        return await self.make.act(worker, case, "request_review")

    async def submitted(self, state: str = HOME_STATE, **overrides: Any) -> Json:
        case = await self.pending_review(**overrides)
        return await self.make.act(
            self.people.boss, case, "submit", resettlement_country=state, **SUBMISSION
        )

    async def in_transit(self, transit: str = HOME_TRANSIT, state: str = HOME_STATE) -> Json:
        officer = self.people.cri
        if transit != HOME_TRANSIT:
            officer = self.people.pan
        case = await self.submitted(state)
        case = await self.make.act(
            self.people.worker, case, "request_transit", transit_country=transit
        )
        case = await self.make.act(officer, case, "authorise_transit")
        await self.make.act(officer, case, "record_transit_entry", entered_at=days(0))
        return await self.fresh(case)

    async def closed(self) -> Json:
        case = await self.in_transit()
        return await self.make.act(self.people.boss, case, "close", reason="lost_contact")

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
