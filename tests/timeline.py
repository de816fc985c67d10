"""Drive cases through the service functions at chosen moments (the API always uses "now"),
to build histories with exact milestone dates."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import SqlaDb
from app.models.record import CaseRecord
from app.schemas.cases import CaseCreate
from app.schemas.transitions import transition_adapter
from app.services import cases, lifecycle
from app.services.policy import Actor
from app.services.records import load_record
from tests.factories import TestUser, case_body, member


def actor(user: TestUser) -> Actor:
    return Actor(id=user.id, username=user.username, role=user.role, country=user.country)


def moment(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=12)


def household(size: int, origin: str = "SLV") -> list[dict[str, Any]]:
    people = [member(nationality=origin)]
    people += [
        member(is_principal=False, given_name=f"Child{i}", relationship="child", nationality=origin)
        for i in range(1, size)
    ]
    return people


class Timeline:
    def __init__(self, engine: AsyncEngine, worker: TestUser, boss: TestUser) -> None:
        self.engine, self.worker, self.boss = engine, actor(worker), actor(boss)

    async def create(
        self, identified: str, size: int = 1, origin: str = "SLV", **extra: Any
    ) -> uuid.UUID:
        body = case_body(
            origin_country=origin,
            identified_at=identified,
            members=household(size, origin),
            **extra,
        )
        async with self.engine.begin() as conn:
            record = await cases.create_case(
                SqlaDb(conn), self.worker, CaseCreate.model_validate(body), moment(identified)
            )
        case_id: uuid.UUID = record.case["id"]
        return case_id

    async def act(
        self, who: TestUser | Actor, case_id: uuid.UUID, action: str, day: str, **fields: Any
    ) -> CaseRecord:
        by = who if isinstance(who, Actor) else actor(who)
        async with self.engine.begin() as conn:
            db = SqlaDb(conn)
            current = await load_record(db, by, case_id)
            command = transition_adapter.validate_python({"action": action, **fields})
            return await lifecycle.apply_transition(
                db,
                by,
                case_id,
                command,
                f'"{current.case["version"]}"',
                moment(day),
                checklist=(),  # these timelines are about the funnel: no departure checklist
            )

    async def to_review(self, case_id: uuid.UUID, day: str) -> None:
        await self.act(self.worker, case_id, "start_assessment", day)
        await self.act(self.worker, case_id, "request_review", day)

    async def submit(
        self, case_id: uuid.UUID, day: str, country: str, action: str = "submit"
    ) -> None:
        await self.act(
            self.boss,
            case_id,
            action,
            day,
            resettlement_country=country,
            submission_priority="normal",
            primary_category="legal_physical_protection_needs",
            secondary_category="women_girls_at_risk",
        )
