"""Retention (domain.md "Retention"): a case resettled or closed more than
``PTA_RETENTION_DAYS`` days before today (UTC dates) and not under legal hold is erased —
names, the day and month of birth, document numbers, the referral source, the protection
summary, every free text and every event payload (which keeps its digest, so the chains still
verify) — one case per transaction, so a run stopped anywhere leaves each case erased or
untouched, and a run again takes up the rest. Countries, statuses, dates, sex, birth years,
member ids and counts stay: every funnel and transit figure is the same after."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import (
    ColumnElement,
    Update,
    and_,
    bindparam,
    false,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.base import Executable

from app import chain
from app.db import POSTGRESQL, SQLITE, Db, SqlaDb, SqlDialect
from app.metrics import REGISTRY
from app.models import (
    Case,
    CaseEvent,
    DepartureRequirement,
    InformationRequest,
    Member,
    Submission,
    TransitStay,
)
from app.services import member_keys
from app.vocabulary import CaseStatus

log = logging.getLogger("pta.retention")

ERASED = "[erased]"
#: The service's first run waits this long after start (then every interval).
FIRST_RUN_DELAY_SECONDS = 60.0
PAGE = 500
CASES_ERASED = Counter("pta_cases_erased", "Cases erased by the retention rule.", registry=REGISTRY)


def _due() -> ColumnElement[bool]:
    """Resettled (``resettled_at``) or closed (``closed_at``'s UTC date) before the cutoff
    day, not on hold, not erased yet. A reopened case is neither."""
    return and_(
        Case.erased_at.is_(None),
        Case.legal_hold.is_(false()),
        or_(
            and_(Case.status == CaseStatus.resettled, Case.resettled_at < bindparam("cutoff_day")),
            and_(Case.status == CaseStatus.closed, Case.closed_at < bindparam("cutoff_at")),
        ),
    )


DUE_PAGE: Executable = (
    select(Case.id, Case.reference)
    .where(_due(), Case.id > bindparam("after"))
    .order_by(Case.id)
    .limit(PAGE)
)
#: A case another run (or a writer) holds right now is left to that one (or the next run).
LOCK_DUE: Executable = (
    select(Case.id)
    .where(Case.id == bindparam("case_id"), _due())
    .with_for_update(skip_locked=True)
)


def cutoff(today: date, days: int) -> dict[str, Any]:
    """The parameters of "more than ``days`` days before today"."""
    day = today - timedelta(days=days)
    return {"cutoff_day": day, "cutoff_at": datetime.combine(day, time(), tzinfo=UTC)}


def _of_case(model: Any, **values: Any) -> Update:
    return update(model).where(model.case_id == bindparam("of_case")).values(**values)


def _erasures(dialect: SqlDialect) -> tuple[Executable, ...]:
    return (
        # what search and possible duplicates read of the members: names and documents, so
        # an erased person is found by neither (a later PATCH of the members writes new keys)
        member_keys.DELETE_KEYS,
        _of_case(
            Member,
            given_name=ERASED,
            family_name=ERASED,
            date_of_birth=dialect.year_start(Member.date_of_birth),
            dob_estimated=true(),
            document_number=null(),
        ),
        _of_case(Submission, decision_reason=null()),
        _of_case(TransitStay, authorisation_note=null(), refusal_reason=null()),
        _of_case(InformationRequest, question=null(), answer=null()),
        _of_case(DepartureRequirement, note=null()),
    )


ERASURES = {dialect.name: _erasures(dialect) for dialect in (POSTGRESQL, SQLITE)}
ERASE_CASE: Update = (
    update(Case)
    .where(Case.id == bindparam("of_case"))
    .values(
        referral_source=null(),
        protection_summary=null(),
        erased_at=bindparam("now"),
        updated_at=bindparam("now"),
        version=Case.version + 1,
    )
)
PAYLOADS: Executable = select(CaseEvent.id, CaseEvent.payload).where(
    CaseEvent.case_id == bindparam("case_id"), CaseEvent.payload_digest.is_(None)
)
ERASE_PAYLOAD: Update = (
    update(CaseEvent)
    .where(CaseEvent.id == bindparam("of_event"))
    .values(
        payload=bindparam("erased", type_=CaseEvent.__table__.c.payload.type),
        payload_digest=bindparam("digest"),
    )
)


async def erase_case(db: Db, case_id: uuid.UUID, limit: dict[str, Any], now: datetime) -> bool:
    """Erase one case if it is (still) due, under its row lock: False when it is not (held,
    reopened or erased meanwhile, or being written by someone else this instant)."""
    if await db.first(LOCK_DUE, {"case_id": case_id, **limit}) is None:
        return False
    for statement in ERASURES[db.dialect.name]:
        await db.run(statement, {"of_case": case_id})
    await db.run(ERASE_CASE, {"of_case": case_id, "now": now})
    payloads = await db.all(PAYLOADS, {"case_id": case_id})
    await db.run_many(
        ERASE_PAYLOAD,
        [
            {
                "of_event": row["id"],
                "erased": dict(chain.ERASED_PAYLOAD),
                "digest": chain.payload_digest(row["payload"]),
            }
            for row in payloads
        ],
    )
    return True


@dataclass
class Outcome:
    erased: int = 0
    #: the references of the cases due (a dry run) or erased
    references: list[str] = field(default_factory=list)


async def _due_page(engine: AsyncEngine, limit: dict[str, Any], after: Any) -> Sequence[Any]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(pta_read_only=True)
        async with conn.begin():
            return await SqlaDb(conn).all(DUE_PAGE, {**limit, "after": after})


async def apply(engine: AsyncEngine, today: date, days: int, *, dry_run: bool) -> Outcome:
    """Erase every case due (a dry run: only say which), one transaction per case."""
    limit, outcome = cutoff(today, days), Outcome()
    after: Any = uuid.UUID(int=0)
    while page := await _due_page(engine, limit, after):
        after = page[-1]["id"]
        if dry_run:
            outcome.references += [row["reference"] for row in page]
            continue
        for case_id, reference in page:
            async with engine.begin() as conn:
                erased = await erase_case(SqlaDb(conn), case_id, limit, datetime.now(UTC))
            if erased:
                outcome.erased += 1
                outcome.references.append(reference)
                CASES_ERASED.inc()
    return outcome


async def retention_forever(engine: AsyncEngine, days: int, every: float) -> None:
    """The service's own run: soon after start, then every ``every`` seconds (a day). Workers
    and replicas may run it side by side: each case is taken by one of them (``LOCK_DUE``)."""
    await asyncio.sleep(min(every, FIRST_RUN_DELAY_SECONDS))
    while True:
        try:
            outcome = await apply(engine, datetime.now(UTC).date(), days, dry_run=False)
            log.info("retention applied", extra={"cases_erased": outcome.erased})
        except Exception as error:  # the database may be down: try again next time
            log.warning("retention failed", extra={"error_type": type(error).__name__})
        await asyncio.sleep(every)
