"""The access policy, in one pure module: which role may do what, and which cases (and which
parts of them) exist for each role. Every service function goes through it, so HTTP, the CLI
and any job obey the same rules. Nothing here touches the database; scope rules are returned as
SQL expressions for the queries to apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from app.errors import Forbidden, FourEyes
from app.models import Case, CaseEvent, Submission, TransitStay
from app.models.record import CaseRecord, Row
from app.vocabulary import LIVE_SUBMISSION, Action, Role, StayStatus

R = Role


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the database says now (never as a token claims)."""

    id: uuid.UUID
    username: str
    role: Role
    country: str | None = None


class Permission(StrEnum):
    create_case = "create_case"
    update_case = "update_case"
    read_cases = "read_cases"
    read_reports = "read_reports"
    read_access_log = "read_access_log"
    manage_users = "manage_users"


UNHCR = frozenset({R.caseworker, R.supervisor})
CASE_READERS = UNHCR | {R.resettlement_officer, R.transit_officer}

#: role × action: who may take each action on a case they can see, and who may do the rest.
ALLOWED: Mapping[Action | Permission, frozenset[Role]] = {
    Permission.create_case: UNHCR,
    Permission.update_case: UNHCR,
    Permission.read_cases: CASE_READERS,
    Permission.read_reports: CASE_READERS | {R.manager},
    Permission.read_access_log: frozenset({R.supervisor, R.admin}),
    Permission.manage_users: frozenset({R.admin}),
    Action.start_assessment: UNHCR,
    Action.request_review: UNHCR,
    Action.return_to_assessment: frozenset({R.supervisor}),
    Action.submit: frozenset({R.supervisor}),
    Action.decide: frozenset({R.resettlement_officer}),
    Action.resubmit: frozenset({R.supervisor}),
    Action.withdraw_submission: frozenset({R.supervisor}),
    Action.request_transit: UNHCR,
    Action.authorise_transit: frozenset({R.transit_officer}),
    Action.refuse_transit: frozenset({R.transit_officer}),
    Action.record_transit_entry: frozenset({R.transit_officer}),
    Action.extend_transit: frozenset({R.transit_officer}),
    Action.record_departure: UNHCR | {R.transit_officer},
    Action.confirm_arrival: frozenset({R.supervisor, R.resettlement_officer}),
    Action.close: frozenset({R.supervisor}),
    Action.reopen: frozenset({R.supervisor}),
}


def _latest_submission_country(record: CaseRecord) -> str | None:
    submission = record.latest_submission
    return submission["resettlement_country"] if submission else None


def _latest_stay_country(record: CaseRecord) -> str | None:
    stay = record.latest_stay
    return stay["transit_country"] if stay else None


#: An officer acts only for its own country: the country of the case's latest submission or
#: latest stay (the one the action is about) must be the officer's. Judged on the latest one
#: whatever its status, so the officer of that country learns from a 409 that the action is
#: not available now (a departure already recorded, a stay already exited), not a 403.
OFFICER_SUBJECT: Mapping[Action, Callable[[CaseRecord], str | None]] = {
    Action.decide: _latest_submission_country,
    Action.confirm_arrival: _latest_submission_country,
    Action.authorise_transit: _latest_stay_country,
    Action.refuse_transit: _latest_stay_country,
    Action.record_transit_entry: _latest_stay_country,
    Action.extend_transit: _latest_stay_country,
    Action.record_departure: _latest_stay_country,
}


def allowed(actor: Actor, what: Action | Permission) -> bool:
    return actor.role in ALLOWED[what]


def require(actor: Actor, what: Action | Permission) -> None:
    if not allowed(actor, what):
        raise Forbidden(f"The {actor.role} role may not {_describe(what)}.")


def authorize_action(actor: Actor, action: Action, record: CaseRecord) -> None:
    """Raise Forbidden unless this actor may take this action on this (visible) case."""
    require(actor, action)
    if actor.role in (R.resettlement_officer, R.transit_officer):
        subject = OFFICER_SUBJECT.get(action)
        if subject is None or subject(record) != actor.country:
            raise Forbidden(f"Only the officer of the country concerned may {action}.")
    if action is Action.submit and record.case["drafted_by"] == actor.id:
        raise FourEyes("The user who requested review may not submit the case (four eyes).")


#: The bind parameter every scope rule compares with the caller's country.
SCOPE = bindparam("scope_country", type_=String)


def scope_params(actor: Actor) -> dict[str, Any]:
    """The values the scope rules below need at run time (statements are built once per role
    and reused with these)."""
    return {"scope_country": actor.country}


def visible_cases(role: Role, *, after: BindParameter[Any] | None = None) -> ColumnElement[bool]:
    """The scope of a role as an SQL filter on ``cases``: an invisible case does not exist.
    Compares with the caller's country through ``scope_params``. ``after`` (a keyset page's
    cursor) is repeated inside an officer's scope, so PostgreSQL starts its index range at
    the cursor whatever plan it chose for the prepared statement."""
    if role in UNHCR:
        return true()
    if role is R.resettlement_officer:
        query = select(Submission.id).where(
            Submission.case_id == Case.id, Submission.resettlement_country == SCOPE
        )
        if after is not None:
            query = query.where(Submission.case_id > after)
        return exists(query)
    if role is R.transit_officer:
        query = select(TransitStay.id).where(
            TransitStay.case_id == Case.id,
            TransitStay.transit_country == SCOPE,
            TransitStay.status != StayStatus.refused,
        )
        if after is not None:
            query = query.where(TransitStay.case_id > after)
        return exists(query)
    return false()


#: The list filters an officer may use: a filter on a field outside its view (priority,
#: identification date) would let it infer that field case by case.
OFFICER_FILTERS = frozenset(
    {
        "stage",
        "status",
        "origin_country",
        "resettlement_country",
        "transit_country",
        "updated_since",
    }
)


def check_filters(actor: Actor, filters: Iterable[str]) -> None:
    if actor.role in (R.resettlement_officer, R.transit_officer):
        refused = sorted(set(filters) - OFFICER_FILTERS)
        if refused:
            raise Forbidden(f"The {actor.role} role may not filter by {', '.join(refused)}.")


def probes_elsewhere(actor: Actor, filters: Mapping[str, Any]) -> bool:
    """An officer filtering by another state's or country's submissions or stays: the answer
    is empty rather than a view into what it may not see."""
    if actor.role is R.resettlement_officer:
        return filters.get("resettlement_country") not in (None, actor.country)
    if actor.role is R.transit_officer:
        return filters.get("transit_country") not in (None, actor.country)
    return False


def cases_submitted_to(role: Role, country: BindParameter[Any]) -> ColumnElement[bool]:
    """The ``resettlement_country`` filter over the submissions the role may see (a transit
    officer sees only the live one)."""
    query = select(Submission.id).where(
        Submission.case_id == Case.id, Submission.resettlement_country == country
    )
    if role is R.transit_officer:
        newer = aliased(Submission)
        query = query.where(
            or_(*(Submission.status == status for status in sorted(LIVE_SUBMISSION))),
            ~exists(
                select(newer.id).where(
                    newer.case_id == Submission.case_id, newer.sequence > Submission.sequence
                )
            ),
        )
    return exists(query)


def cases_staying_in(country: BindParameter[Any]) -> ColumnElement[bool]:
    """The ``transit_country`` filter."""
    return exists(
        select(TransitStay.id).where(
            TransitStay.case_id == Case.id, TransitStay.transit_country == country
        )
    )


def report_slice(
    actor: Actor, resettlement_country: str | None, transit_country: str | None
) -> tuple[str | None, str | None]:
    """The country filters of an aggregate report: an officer gets only its own country's
    slice (asking for another country's is refused)."""
    require(actor, Permission.read_reports)
    if actor.role is R.resettlement_officer:
        if resettlement_country not in (None, actor.country):
            raise Forbidden("A resettlement officer sees only its own state's figures.")
        return actor.country, transit_country
    if actor.role is R.transit_officer:
        if transit_country not in (None, actor.country):
            raise Forbidden("A transit officer sees only its own country's figures.")
        return resettlement_country, actor.country
    return resettlement_country, transit_country


def transit_report_scope(role: Role) -> ColumnElement[bool]:
    """Which stays in transit count in a role's transit report (an SQL filter on
    ``transit_stays`` joined to ``cases``; the country comes from ``scope_params``)."""
    if role is R.transit_officer:
        return TransitStay.transit_country == SCOPE
    if role is R.resettlement_officer:
        return exists(
            select(Submission.id).where(
                Submission.case_id == Case.id, Submission.resettlement_country == SCOPE
            )
        )
    return true()


def sees_stay_lines(actor: Actor) -> bool:
    """Managers get transit counts only, never the households behind them."""
    return actor.role in CASE_READERS


def visible_events(role: Role) -> ColumnElement[bool]:
    """Which events of a visible case a role sees: an officer sees status events, its own
    state's submissions (resettlement officer, who also sees stays) or its own country's stays.
    """
    if role in UNHCR:
        return true()
    case_wide = and_(CaseEvent.resettlement_country.is_(None), CaseEvent.transit_country.is_(None))
    if role is R.resettlement_officer:
        return or_(
            case_wide,
            CaseEvent.resettlement_country == SCOPE,
            CaseEvent.transit_country.is_not(None),
        )
    if role is R.transit_officer:
        return or_(case_wide, CaseEvent.transit_country == SCOPE)
    return false()


def visible_submissions(actor: Actor, record: CaseRecord) -> list[Row]:
    """UNHCR sees all; a resettlement officer its own state's; a transit officer the live one."""
    if actor.role is R.resettlement_officer:
        return [s for s in record.submissions if s["resettlement_country"] == actor.country]
    if actor.role is R.transit_officer:
        latest = record.latest_submission
        return [latest] if latest is not None and latest["status"] in LIVE_SUBMISSION else []
    return list(record.submissions) if actor.role in UNHCR else []


def visible_stays(actor: Actor, record: CaseRecord) -> list[Row]:
    """A transit officer sees only its own country's stays; UNHCR and resettlement states all."""
    if actor.role is R.transit_officer:
        return [s for s in record.stays if s["transit_country"] == actor.country]
    return list(record.stays) if actor.role in CASE_READERS else []


def sees_protection_summary(actor: Actor, record: CaseRecord) -> bool:
    """UNHCR always; a resettlement officer only while its submission is live."""
    if actor.role in UNHCR:
        return True
    if actor.role is R.resettlement_officer:
        return any(s["status"] in LIVE_SUBMISSION for s in visible_submissions(actor, record))
    return False


def submitted_elsewhere(actor: Actor, record: CaseRecord) -> bool:
    """``previously_submitted_elsewhere``: was the case put to another state before this
    state's latest submission? Where it went afterwards is not this state's business."""
    own = [s["sequence"] for s in record.submissions if s["resettlement_country"] == actor.country]
    latest_own = max(own, default=0)
    return any(
        s["resettlement_country"] != actor.country and s["sequence"] < latest_own
        for s in record.submissions
    )


def _describe(what: Action | Permission) -> str:
    return str(what).replace("_", " ")
