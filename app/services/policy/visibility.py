"""Which parts of a visible case each role sees: submissions, stays, the protection summary."""

from __future__ import annotations

from app.models.record import CaseRecord
from app.models.rows import StayRow, SubmissionRow
from app.services.policy.actions import (
    CASE_READERS,
    UNHCR,
    Actor,
    accepting_country,
    active_stay_country,
)
from app.vocabulary import LIVE_SUBMISSION, Role


def sees_stay_lines(actor: Actor) -> bool:
    """Managers get transit counts only, never the households behind them."""
    return actor.role in CASE_READERS


def visible_submissions(actor: Actor, record: CaseRecord) -> list[SubmissionRow]:
    """UNHCR sees all; a resettlement officer its own state's; a transit officer the live one."""
    if actor.role is Role.resettlement_officer:
        return [s for s in record.submissions if s["resettlement_country"] == actor.country]
    if actor.role is Role.transit_officer:
        latest = record.latest_submission
        return [latest] if latest is not None and latest["status"] in LIVE_SUBMISSION else []
    return list(record.submissions) if actor.role in UNHCR else []


def visible_stays(actor: Actor, record: CaseRecord) -> list[StayRow]:
    """A transit officer sees only its own country's stays; UNHCR and resettlement states all."""
    if actor.role is Role.transit_officer:
        return [s for s in record.stays if s["transit_country"] == actor.country]
    return list(record.stays) if actor.role in CASE_READERS else []


def sees_protection_summary(actor: Actor, record: CaseRecord) -> bool:
    """UNHCR always; a resettlement officer only while its submission is live."""
    if actor.role in UNHCR:
        return True
    if actor.role is Role.resettlement_officer:
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


def sees_departure_requirements(actor: Actor, record: CaseRecord) -> bool:
    """UNHCR; the accepting state's officer; the transit officer of the active stay's country.
    Any other officer who sees the case gets an empty checklist."""
    if actor.role in UNHCR:
        return True
    if actor.role is Role.resettlement_officer:
        return accepting_country(record) == actor.country
    if actor.role is Role.transit_officer:
        return active_stay_country(record) == actor.country
    return False


def sees_note(actor: Actor, written_by: str | None) -> bool:
    """UNHCR sees every note of the checklist; an officer only those its own role wrote."""
    return actor.role in UNHCR or written_by == actor.role
