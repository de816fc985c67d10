"""Which cases, events and report rows exist for each role, as SQL filters for the queries
to apply (an invisible case does not exist). Compared with the caller's country through
``scope_params``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from sqlalchemy.sql.visitors import replacement_traverse

from app.errors import Forbidden
from app.models import Case, CaseEvent, DepartureRequirement, Submission, TransitStay, User
from app.models.transit_stay import STAY_COUNTS
from app.services.policy.actions import CASE_READERS, UNHCR, Actor, Permission, require
from app.vocabulary import (
    ACTIVE_STAY,
    LIVE_SUBMISSION,
    RequirementStatus,
    Role,
    SubmissionStatus,
)

#: The bind parameter every scope rule compares with the caller's country.
SCOPE = bindparam("scope_country", type_=String)


def scope_params(actor: Actor) -> dict[str, Any]:
    """The values the scope rules below need at run time (statements are built once per role
    and reused with these). Only an officer's rules compare with a country."""
    if actor.role in (Role.resettlement_officer, Role.transit_officer):
        return {"scope_country": actor.country}
    return {}


def visible_cases(role: Role, *, after: BindParameter[Any] | None = None) -> ColumnElement[bool]:
    """The scope of a role as an SQL filter on ``cases``: an invisible case does not exist.
    Compares with the caller's country through ``scope_params``. ``after`` (a keyset page's
    cursor) is repeated inside an officer's scope, so PostgreSQL starts its index range at
    the cursor whatever plan it chose for the prepared statement."""
    if role in UNHCR:
        return true()
    if role is Role.resettlement_officer:
        query = select(Submission.id).where(
            Submission.case_id == Case.id, Submission.resettlement_country == SCOPE
        )
        if after is not None:
            query = query.where(Submission.case_id > after)
        return exists(query)
    if role is Role.transit_officer:
        query = select(TransitStay.id).where(
            TransitStay.case_id == Case.id,
            TransitStay.transit_country == SCOPE,
            STAY_COUNTS,
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
        "requirements_overdue",
        "q",  # names, document numbers and references are in every officer's view
    }
)


def check_filters(actor: Actor, filters: Iterable[str]) -> None:
    if actor.role in (Role.resettlement_officer, Role.transit_officer):
        refused = sorted(set(filters) - OFFICER_FILTERS)
        if refused:
            raise Forbidden(f"The {actor.role} role may not filter by {', '.join(refused)}.")


def probes_elsewhere(actor: Actor, filters: Mapping[str, Any]) -> bool:
    """An officer filtering by another state's or country's submissions or stays: the answer
    is empty rather than a view into what it may not see."""
    if actor.role is Role.resettlement_officer:
        return filters.get("resettlement_country") not in (None, actor.country)
    if actor.role is Role.transit_officer:
        return filters.get("transit_country") not in (None, actor.country)
    return False


def cases_submitted_to(role: Role, country: BindParameter[Any]) -> ColumnElement[bool]:
    """The ``resettlement_country`` filter over the submissions the role may see (a transit
    officer sees only the live one)."""
    query = select(Submission.id).where(
        Submission.case_id == Case.id, Submission.resettlement_country == country
    )
    if role is Role.transit_officer:
        query = query.where(_is_live_submission())
    return exists(query)


def _is_live_submission() -> ColumnElement[bool]:
    """The submission is the case's latest and pending, information requested, on hold or
    accepted: the only one a transit officer's view shows."""
    newer = aliased(Submission)
    return and_(
        or_(*(Submission.status == status for status in sorted(LIVE_SUBMISSION))),
        ~exists(
            select(newer.id).where(
                newer.case_id == Submission.case_id, newer.sequence > Submission.sequence
            )
        ),
    )


#: An officer's report gives a median of days only for a group of at least this many cases.
OFFICER_MEDIAN_MIN_CASES = 5


def report_submissions(role: Role) -> Any:
    """The submissions a role's report may filter or group by, as ``(case_id,
    resettlement_country)``: a transit officer's only the live one (the one its view shows),
    so a report never reveals a denial or withdrawal its case view hides."""
    query = select(Submission.case_id, Submission.resettlement_country)
    if role is Role.transit_officer:
        query = query.where(_is_live_submission())
    return query.distinct().subquery()


def report_sees_all_submissions(role: Role) -> bool:
    """Whether the rollup (which counts every state a case was ever submitted to) may answer
    this role's report when it filters or groups by resettlement country."""
    return role is not Role.transit_officer


def cases_staying_in(country: BindParameter[Any]) -> ColumnElement[bool]:
    """The ``transit_country`` filter."""
    return exists(
        select(TransitStay.id).where(
            TransitStay.case_id == Case.id, TransitStay.transit_country == country
        )
    )


def cases_overdue(role: Role, today: BindParameter[Any]) -> ColumnElement[bool]:
    """The ``requirements_overdue`` filter: a pending item due before ``today`` on the checklist
    of the case's accepted submission — for an officer, only where it sees that checklist (its
    state accepted; the active stay is in its country), so the filter tells it nothing more."""
    query = (
        select(DepartureRequirement.item)
        .join(Submission, Submission.id == DepartureRequirement.submission_id)
        .where(
            DepartureRequirement.case_id == Case.id,
            DepartureRequirement.status == RequirementStatus.pending,
            DepartureRequirement.due_on.is_not(None),
            DepartureRequirement.due_on < today,
            Submission.status == SubmissionStatus.accepted,
        )
    )
    if role is Role.resettlement_officer:
        query = query.where(Submission.resettlement_country == SCOPE)
    elif role is Role.transit_officer:
        # correlated to the outer query's case (two levels up): left to itself, SQLAlchemy
        # would take ``cases`` into this subquery's FROM and ask whether any case at all has
        # an active stay in the country
        query = query.where(
            exists(
                select(TransitStay.id)
                .where(
                    TransitStay.case_id == Case.id,
                    TransitStay.transit_country == SCOPE,
                    or_(*(TransitStay.status == status for status in sorted(ACTIVE_STAY))),
                )
                .correlate_except(TransitStay)
            )
        )
    elif role not in UNHCR:
        return false()
    return exists(query)


def report_slice(
    actor: Actor, resettlement_country: str | None, transit_country: str | None
) -> tuple[str | None, str | None]:
    """The country filters of an aggregate report: an officer gets only its own country's
    slice (asking for another country's is refused)."""
    require(actor, Permission.read_reports)
    if actor.role is Role.resettlement_officer:
        if resettlement_country not in (None, actor.country):
            raise Forbidden("A resettlement officer sees only its own state's figures.")
        return actor.country, transit_country
    if actor.role is Role.transit_officer:
        if transit_country not in (None, actor.country):
            raise Forbidden("A transit officer sees only its own country's figures.")
        return resettlement_country, actor.country
    return resettlement_country, transit_country


def transit_report_scope(role: Role) -> ColumnElement[bool]:
    """Which stays in transit count in a role's transit report (an SQL filter on
    ``transit_stays`` joined to ``cases``; the country comes from ``scope_params``)."""
    if role is Role.transit_officer:
        return TransitStay.transit_country == SCOPE
    if role is Role.resettlement_officer:
        return exists(
            select(Submission.id).where(
                Submission.case_id == Case.id, Submission.resettlement_country == SCOPE
            )
        )
    return true()


def visible_events(role: Role) -> ColumnElement[bool]:
    """Which events of a visible case a role sees: an officer sees status events, its own
    state's submissions (resettlement officer, who also sees stays) or its own country's stays.
    ``update_requirement`` events carry the accepting state and the active stay's country: the
    officers who saw the checklist when it changed."""
    if role in UNHCR:
        return true()
    case_wide = and_(CaseEvent.resettlement_country.is_(None), CaseEvent.transit_country.is_(None))
    if role is Role.resettlement_officer:
        # stay events; an event about both (a departure requirement) is the accepting state's
        return or_(
            case_wide,
            CaseEvent.resettlement_country == SCOPE,
            and_(CaseEvent.transit_country.is_not(None), CaseEvent.resettlement_country.is_(None)),
        )
    if role is Role.transit_officer:
        return or_(case_wide, CaseEvent.transit_country == SCOPE)
    return false()


def event_visible_to_user() -> ColumnElement[bool]:
    """Whether the user row joined as ``users`` may see the event joined as ``case_events``
    of the case joined as ``cases``, as ``GET /cases/{id}/events`` would answer it now: the
    rules above for the row's role, its country in place of the caller's, and only while the
    user is active (for messages written for, and sent to, a user's own system)."""
    by_role = or_(
        *(
            and_(User.role == role, visible_cases(role), visible_events(role))
            for role in sorted(CASE_READERS)
        )
    )
    country = User.__table__.c.country

    def own_country(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter) and element.key == SCOPE.key:
            return country
        return None

    no_options: dict[str, Any] = {}
    rule = replacement_traverse(by_role, no_options, own_country)
    return and_(User.active.is_(True), rule)
