"""``split_case``: the members a state did not accept leave for a new case of their own, with
their ids and milestone dates (domain.md "Split decisions"). The rules are judged by the
handler (services/actions.py); this writes the new case and moves the members."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Update, bindparam, update

from app.db import Db
from app.models import Member
from app.models.record import CaseRecord
from app.models.rows import MemberRow
from app.services import cases, member_keys
from app.services.policy import Actor
from app.vocabulary import CaseStatus

#: What the new case takes from the original, unchanged.
INHERITED = (
    "origin_country",
    "pathway",
    "processing_priority",
    "referral_source",
    "protection_summary",
    "identified_at",
)

MOVE_MEMBER: Update = (
    update(Member)
    .where(Member.id == bindparam("member_id"), Member.case_id == bindparam("of_case"))
    .values(case_id=bindparam("to_case"), is_principal=bindparam("principal"))
)


@dataclass(frozen=True)
class SplitPlan:
    """The new case's id, the members moving to it and its principal among them."""

    case_id: uuid.UUID
    members: frozenset[uuid.UUID]
    principal: uuid.UUID


async def split_off(
    db: Db, actor: Actor, record: CaseRecord, plan: SplitPlan, now: datetime
) -> list[MemberRow]:
    """Create the new case (status ``assessment``, no submissions or stays, its first event
    ``create`` with ``split_from``), move the members, and return those who stay."""
    original = record.case
    row = await cases.insert_case(
        db,
        actor,
        {
            "id": plan.case_id,
            **{name: cast(Mapping[str, Any], original)[name] for name in INHERITED},
            "status": CaseStatus.assessment,
            "member_count": len(plan.members),
            "split_from": original["id"],
        },
        now,
    )
    moving = [m for m in record.members if m["id"] in plan.members]
    await db.run_many(
        MOVE_MEMBER,
        [
            {
                "member_id": m["id"],
                "of_case": original["id"],
                "to_case": plan.case_id,
                "principal": m["id"] == plan.principal,
            }
            for m in moving
        ],
    )
    await member_keys.move(db, (m["id"] for m in moving), original["id"], plan.case_id)
    moved = [
        cast(MemberRow, {**m, "case_id": plan.case_id, "is_principal": m["id"] == plan.principal})
        for m in moving
    ]
    await cases.record_creation(db, actor, row, moved, now)
    return [m for m in record.members if m["id"] not in plan.members]
