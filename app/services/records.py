"""Loading a case the caller can see, and writing it under optimistic concurrency. Every
statement here is built once per shape and run with parameters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Update, bindparam, func, literal_column, select, update
from sqlalchemy.sql.base import Executable

from app.db import Db, Row, SqlDialect
from app.errors import NotFound, PreconditionFailed, PreconditionRequired
from app.models import (
    Case,
    DepartureRequirement,
    InformationRequest,
    Member,
    Submission,
    TransitStay,
)
from app.models.record import CaseRecord
from app.models.rows import (
    CaseRow,
    InformationRequestRow,
    MemberRow,
    RequirementRow,
    StayRow,
    SubmissionRow,
)
from app.services import policy
from app.services.policy import Actor
from app.vocabulary import Role

CASE_COLUMNS = tuple(Case.__table__.columns)


def not_found() -> NotFound:
    # One message for "does not exist" and "outside your scope": the answer must not tell.
    return NotFound("No case with this id exists for you.")


def _rows_of(table: Any, name: str, *order: str) -> Any:
    """All rows of a child table for the case at hand, as one array of records (PostgreSQL
    returns them typed, asyncpg decodes them): a case and its children in one round trip."""
    child = table.alias(name)
    rows: Any = (
        select(literal_column(name))
        .select_from(child)
        .where(child.c.case_id == Case.id)
        .order_by(*(child.c[column] for column in order))
    )
    return func.array(rows.scalar_subquery()).label(f"_{name}")


def case_columns(dialect: SqlDialect) -> tuple[Any, ...]:
    """A case's columns, and on PostgreSQL its members, submissions, stays, requests for
    information and departure requirements with them."""
    if not dialect.is_postgresql:
        return CASE_COLUMNS
    return (
        *CASE_COLUMNS,
        _rows_of(Member.__table__, "members", "position"),
        _rows_of(Submission.__table__, "submissions", "sequence"),
        _rows_of(TransitStay.__table__, "stays", "requested_at", "id"),
        _rows_of(InformationRequest.__table__, "information_requests", "id"),
        _rows_of(DepartureRequirement.__table__, "requirements", "submission_id", "position"),
    )


@cache
def _case_by_id(dialect: SqlDialect, role: Role, for_update: bool) -> Executable:
    query = select(*case_columns(dialect)).where(
        Case.id == bindparam("case_id"), policy.visible_cases(role)
    )
    return query.with_for_update(of=Case) if for_update else query


async def find_visible(
    db: Db, actor: Actor, case_id: uuid.UUID, *, for_update: bool = False
) -> Row:
    row = await db.first(
        _case_by_id(db.dialect, actor.role, for_update),
        {"case_id": case_id, **policy.scope_params(actor)},
    )
    if row is None:
        raise not_found()
    return row


async def load_record(
    db: Db, actor: Actor, case_id: uuid.UUID, *, for_update: bool = False
) -> CaseRecord:
    """A case the caller can see, with its members, submissions and stays; else 404.

    ``for_update`` locks the case row first (every writer does, so the rows read after it
    belong to that same version: a concurrent writer waits, then sees the new version and
    answers 412). SQLite needs no row lock: its write transactions already run one at a time.
    """
    case = await find_visible(db, actor, case_id, for_update=for_update)
    (record,) = await attach(db, [case])
    return record


@cache
def _children(dialect: SqlDialect, many: bool) -> tuple[Executable, ...]:
    """Members, submissions, stays, requests for information and departure requirements of
    one case (``case_id``) or of a page (``case_ids``)."""

    def of(column: Any) -> Any:
        return dialect.in_list(column, "case_ids") if many else column == bindparam("case_id")

    return (
        select(Member).where(of(Member.case_id)).order_by(Member.case_id, Member.position),
        select(Submission)
        .where(of(Submission.case_id))
        .order_by(Submission.case_id, Submission.sequence),
        select(TransitStay)
        .where(of(TransitStay.case_id))
        .order_by(TransitStay.case_id, TransitStay.requested_at, TransitStay.id),
        select(InformationRequest)
        .where(of(InformationRequest.case_id))
        .order_by(InformationRequest.case_id, InformationRequest.id),
        select(DepartureRequirement)
        .where(of(DepartureRequirement.case_id))
        .order_by(
            DepartureRequirement.case_id,
            DepartureRequirement.submission_id,
            DepartureRequirement.position,
        ),
    )


async def attach(db: Db, rows: Sequence[Row]) -> list[CaseRecord]:
    """These cases with their members, submissions, stays, requests for information and
    departure requirements: read with them on PostgreSQL (``case_columns``), else loaded by
    one query per kind for all of them."""
    if db.dialect.is_postgresql:
        return [
            CaseRecord(
                case=cast(CaseRow, row),
                members=list(row["_members"]),
                submissions=list(row["_submissions"]),
                stays=list(row["_stays"]),
                information_requests=list(row["_information_requests"]),
                requirements=list(row["_requirements"]),
            )
            for row in rows
        ]
    records = {row["id"]: CaseRecord(case=cast(CaseRow, row)) for row in rows}
    if not records:
        return []
    many = len(records) > 1
    params = {"case_ids": list(records)} if many else {"case_id": rows[0]["id"]}
    members, submissions, stays, questions, requirements = _children(db.dialect, many)
    for member in await db.all(members, params):
        records[member["case_id"]].members.append(cast(MemberRow, member))
    for submission in await db.all(submissions, params):
        records[submission["case_id"]].submissions.append(cast(SubmissionRow, submission))
    for stay in await db.all(stays, params):
        records[stay["case_id"]].stays.append(cast(StayRow, stay))
    for question in await db.all(questions, params):
        records[question["case_id"]].information_requests.append(
            cast(InformationRequestRow, question)
        )
    for requirement in await db.all(requirements, params):
        records[requirement["case_id"]].requirements.append(cast(RequirementRow, requirement))
    return list(records.values())


def check_if_match(if_match: str | None, version: int) -> None:
    """Optimistic concurrency: the client must name the version it read."""
    if if_match is None or if_match.strip() in ("", "*") or "," in if_match:
        raise PreconditionRequired(
            "Send If-Match with exactly one entity-tag: the case's current ETag (for example "
            'If-Match: "3").'
        )
    if if_match.strip().strip('"') != str(version):
        raise PreconditionFailed(
            f"The case has changed since you read it: it is now at version {version}. "
            "Read it again and retry."
        )


#: The columns to set come with the parameters (one prepared statement per set of columns).
WRITE_CASE: Update = (
    update(Case)
    .where(Case.id == bindparam("case_id"), Case.version == bindparam("read_version"))
    .values(version=Case.version + 1)
    .returning(*CASE_COLUMNS)
)


async def write_case(db: Db, case: CaseRow, values: dict[str, Any], now: datetime) -> CaseRow:
    """Update a case only if nobody else has since its version was read: of two concurrent
    writers with one version, exactly one wins; the other gets 412 and changes nothing."""
    row = await db.first(
        WRITE_CASE,
        {**values, "updated_at": now, "case_id": case["id"], "read_version": case["version"]},
    )
    if row is None:
        raise PreconditionFailed("The case was changed by someone else just now: read it again.")
    return cast(CaseRow, row)
