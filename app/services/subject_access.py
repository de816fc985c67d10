"""Subject access (domain.md): everything held about one member of a case, and who read it,
for the supervisor who answers the person's request; the answer is itself a read, logged as
``subject_access``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql.base import Executable

from app.db import Db
from app.errors import NotFound
from app.models import AccessLogCase, AccessLogEntry, User
from app.schemas.case_views import CaseFieldsView, MemberView, StayView, SubmissionView
from app.services import audit, history, policy
from app.services.policy import Actor, Permission
from app.services.records import load_record
from app.services.views import case_fields
from app.vocabulary import UNHCR_ROLES, AccessAction

READS: Executable = (
    select(
        AccessLogEntry.at,
        AccessLogEntry.action,
        AccessLogEntry.role,
        AccessLogEntry.country,
        User.username,
    )
    .join(AccessLogCase, AccessLogCase.access_log_id == AccessLogEntry.id)
    .join(User, User.id == AccessLogEntry.user_id)
    .where(AccessLogCase.case_id == bindparam("case_id"))
    .order_by(AccessLogEntry.id)
)


async def subject_access(
    db: Db, actor: Actor, case_id: uuid.UUID, member_id: uuid.UUID, now: datetime
) -> tuple[str, dict[str, Any]]:
    """404 where the case is not the caller's → 403 but for a supervisor → 404 a member of
    another case; the case's reference and the document."""
    record = await load_record(db, actor, case_id)
    policy.require(actor, Permission.subject_access)
    member = next((m for m in record.members if m["id"] == member_id), None)
    if member is None:
        raise NotFound("No member with this id in this case.")
    fields = case_fields(actor, record)
    reads = [
        {**row, "username": row["username"] if row["role"] in UNHCR_ROLES else None}
        for row in await db.all(READS, {"case_id": case_id})
    ]
    events = await history.whole_history(db, actor, case_id)
    await audit.log_access(
        db, actor, AccessAction.subject_access, [case_id], {"member_id": str(member_id)}, now
    )
    document = {
        "member": MemberView.render(member),
        "case": CaseFieldsView.render(fields),
        "submissions": [SubmissionView.render(s) for s in fields["submissions"]],
        "transit_stays": [StayView.render(s) for s in fields["transit_stays"]],
        "events": [event.model_dump() for event in events],
        "reads": reads,
    }
    return record.case["reference"], document
