"""Plain factory functions: users (with tokens) straight into the database, cases through the
API as a client would create them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app import security
from app.db import SqlaDb
from app.schemas.users import UserCreate
from app.services import users
from app.vocabulary import Role

PASSWORD = "a-long-enough-password"


@dataclass
class TestUser:
    __test__ = False  # not a test class, despite the name

    id: uuid.UUID
    username: str
    role: Role
    country: str | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def member(**overrides: Any) -> dict[str, Any]:
    base = {
        "is_principal": True,
        "given_name": "Ana",
        "family_name": "Lopez",
        "sex": "female",
        "date_of_birth": "1990-02-03",
        "nationality": "SLV",
        "relationship": "principal",
    }
    return {**base, **overrides}


def case_body(**overrides: Any) -> dict[str, Any]:
    base = {
        "origin_country": "SLV",
        "pathway": "transit",
        "processing_priority": "urgent",
        "referral_source": "Community outreach in San Salvador",
        "protection_summary": "Threatened by a gang after refusing extortion.",
        "members": [
            member(),
            member(
                is_principal=False,
                given_name="Luis",
                sex="male",
                date_of_birth="2015-06-01",
                relationship="child",
            ),
        ],
    }
    return {**base, **overrides}


class Factory:
    def __init__(self, client: httpx.AsyncClient, engine: AsyncEngine, key: str) -> None:
        self.client, self.engine, self.key = client, engine, key
        self._count = 0

    async def user(self, role: Role | str, country: str | None = None, **extra: Any) -> TestUser:
        self._count += 1
        role = Role(role)
        username = extra.pop("username", f"{role}_{country or 'x'}_{self._count}".lower())
        data = UserCreate(username=username, password=PASSWORD, role=role, country=country)
        async with self.engine.begin() as conn:
            row = await users.create_user(SqlaDb(conn), users.OPERATOR, data, datetime.now(UTC))
        token = self.token_for(row["id"], role)
        return TestUser(row["id"], username, role, country, token)

    def token_for(self, user_id: uuid.UUID, role: str, generation: int = 0, **claims: Any) -> str:
        return security.create_token(
            user_id=user_id,
            role=role,
            generation=generation,
            key=self.key,
            now=datetime.now(UTC),
            minutes=30,
        )

    async def case(self, by: TestUser, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/cases", json=case_body(**overrides), headers=by.headers
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self, by: TestUser, case: dict[str, Any], action: str, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        """Take an action with the case's current version; return the new case (or the problem)."""
        response = await self.client.post(
            f"/api/v1/cases/{case['id']}/transitions",
            json={"action": action, **fields},
            headers={**by.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert response.status_code == expect, response.text
        return response.json() if response.content else {}
