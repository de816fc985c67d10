"""What each action does to a case beyond its status: the rules it must pass (409
``conflict``) and the changes it makes to the case, its submissions and its stays. Pure
functions of the loaded case; lifecycle.py applies the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.errors import Conflict
from app.models.base import uuid7
from app.models.record import CaseRecord
from app.models.rows import StayRow, SubmissionRow
from app.schemas import transitions as commands
from app.services import departure
from app.services.policy import Actor, accepting_country, active_stay_country
from app.services.splits import SplitPlan
from app.vocabulary import (
    Action,
    Decision,
    ExitReason,
    SubmissionStatus,
)

TRANSIT_DAYS = 180


@dataclass
class Effect:
    """The writes one action makes besides the statuses. Statuses come only from the state
    machine's tables (models/lifecycle.py), applied by services/lifecycle.py: the case's from
    ``TRANSITIONS``, a new submission's or stay's from ``NEW_SUBMISSION``/``NEW_STAY``, the
    latest one's from ``SUBMISSION_TRANSITIONS``/``STAY_TRANSITIONS`` — and
    ``submission_update``/``stay_update`` are written only together with such a step."""

    case: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    new_submission: dict[str, Any] | None = None
    submission_update: dict[str, Any] | None = None  # with the latest submission's step
    #: where the step goes when the sub-machine offers a choice (a decision)
    submission_choice: SubmissionStatus | None = None
    new_stay: dict[str, Any] | None = None
    stay_update: dict[str, Any] | None = None  # with the latest stay's step
    #: which state's submission / which country's stay the event is about
    resettlement_country: str | None = None
    transit_country: str | None = None
    #: split_case: the new case and the members moving to it
    split: SplitPlan | None = None
    #: a state's question on the latest submission / UNHCR's answer to its open questions
    question: str | None = None
    answer: str | None = None
    #: the latest submission starts a fresh departure checklist (PTA_DEPARTURE_REQUIREMENTS)
    start_checklist: bool = False
    #: an item of the current checklist as it now is (``item`` and the columns to set)
    requirement: dict[str, Any] | None = None


Handler = Callable[[CaseRecord, Any, Actor, datetime], Effect]


def _latest_submission(record: CaseRecord) -> SubmissionRow:
    submission = record.latest_submission
    if submission is None:  # the state machine's guard rules this out
        raise RuntimeError("no submission")
    return submission


def _latest_stay(record: CaseRecord) -> StayRow:
    stay = record.latest_stay
    if stay is None:  # the state machine's guard rules this out
        raise RuntimeError("no stay")
    return stay


def _not_before_previous_milestone(record: CaseRecord, day: date, what: str) -> None:
    case = record.case
    later = (case["first_submitted_at"], case["transit_entered_at"], case["departed_at"])
    previous = max([case["identified_at"], *(day for day in later if day is not None)])
    if day < previous:
        raise Conflict(
            f"{what} ({day}) cannot be before the case's previous milestone ({previous})."
        )


def _plain(_record: CaseRecord, _command: Any, _actor: Actor, _now: datetime) -> Effect:
    return Effect()


def _request_review(
    record: CaseRecord, _c: commands.RequestReview, actor: Actor, _now: datetime
) -> Effect:
    return Effect(case={"drafted_by": actor.id})


def _return_to_assessment(
    _record: CaseRecord, command: commands.ReturnToAssessment, _actor: Actor, _now: datetime
) -> Effect:
    return Effect(payload={"reason": command.reason})


def _submit(
    record: CaseRecord, command: commands.SubmissionFields, actor: Actor, now: datetime
) -> Effect:
    country = command.resettlement_country
    if any(
        s["resettlement_country"] == country and s["status"] == SubmissionStatus.denied
        for s in record.submissions
    ):
        raise Conflict(f"{country} has denied this case: it cannot be submitted there again.")
    fields = command.model_dump(exclude={"action"})
    effect = Effect(
        payload=fields,
        new_submission={
            "id": uuid7(),
            "case_id": record.case["id"],
            "sequence": len(record.submissions) + 1,
            **fields,
            "submitted_at": now,
            "submitted_by": actor.id,
            "accepted_members": None,
            "split": False,
        },
        resettlement_country=country,
    )
    if record.case["first_submitted_at"] is None:
        effect.case["first_submitted_at"] = now.date()
    return effect


def _decide(record: CaseRecord, command: commands.Decide, actor: Actor, now: datetime) -> Effect:
    submission = _latest_submission(record)
    effect = Effect(
        payload={"decision": command.decision, "reason": command.reason},
        submission_choice=SubmissionStatus(command.decision),
        submission_update={
            "decided_at": now,
            "decided_by": actor.id,
            "decision_reason": command.reason,
        },
        resettlement_country=submission["resettlement_country"],
    )
    if command.decision is Decision.accepted:
        _accept_members(record, command, effect)
    _information_and_checklist(effect, command)
    return effect


def _accept_members(record: CaseRecord, command: commands.Decide, effect: Effect) -> None:
    """``accepted_members`` (default: every current member); leaving one out is a split."""
    current = [str(member["id"]) for member in record.members]
    chosen = command.accepted_members
    accepted = [str(i) for i in chosen] if chosen else current
    split = not set(current) <= set(accepted)
    effect.submission_update = {
        **(effect.submission_update or {}),
        "accepted_members": accepted,
        "split": split,
    }
    effect.payload.update(accepted_members=accepted, split=split)


def _information_and_checklist(effect: Effect, command: commands.Decide) -> None:
    """A request for information records the state's question; an acceptance starts a fresh
    departure checklist."""
    if command.decision is Decision.information_requested:
        effect.question = command.reason
    effect.start_checklist = command.decision is Decision.accepted


def _provide_information(
    record: CaseRecord, command: commands.ProvideInformation, _actor: Actor, _now: datetime
) -> Effect:
    return Effect(
        payload={"answer": command.note},
        answer=command.note,
        resettlement_country=_latest_submission(record)["resettlement_country"],
    )


def _update_requirement(
    record: CaseRecord, command: commands.UpdateRequirement, actor: Actor, _now: datetime
) -> Effect:
    # The state machine's guard makes sure the latest submission is accepted (a checklist).
    values = departure.updated_item(record, command)
    if values is None:  # an accepted submission from before checklists, or none configured
        raise Conflict(f"This case's departure checklist has no {command.item}.")
    if "note" in command.model_fields_set:
        values["note_role"] = actor.role
    return Effect(
        payload=command.model_dump(mode="json", exclude={"action"}, exclude_unset=True),
        requirement={"item": command.item, **values},
        resettlement_country=accepting_country(record),
        transit_country=active_stay_country(record),
    )


def _withdraw_submission(
    record: CaseRecord, command: commands.WithdrawSubmission, _actor: Actor, now: datetime
) -> Effect:
    submission = _latest_submission(record)
    return Effect(
        payload={"reason": command.reason},
        submission_update={
            "withdrawn_at": now,
            "withdrawal_reason": command.reason,
        },
        resettlement_country=submission["resettlement_country"],
    )


def _request_transit(
    record: CaseRecord, command: commands.RequestTransit, actor: Actor, now: datetime
) -> Effect:
    return Effect(
        payload={"transit_country": command.transit_country},
        new_stay={
            "id": uuid7(),
            "case_id": record.case["id"],
            "transit_country": command.transit_country,
            "requested_at": now,
            "requested_by": actor.id,
        },
        transit_country=command.transit_country,
    )


def _authorise_transit(
    record: CaseRecord, command: commands.AuthoriseTransit, _actor: Actor, now: datetime
) -> Effect:
    return Effect(
        payload={"note": command.note} if command.note else {},
        stay_update={
            "authorised_at": now,
            "authorisation_note": command.note,
        },
        transit_country=_latest_stay(record)["transit_country"],
    )


def _refuse_transit(
    record: CaseRecord, command: commands.RefuseTransit, _actor: Actor, now: datetime
) -> Effect:
    return Effect(
        payload={"reason": command.reason},
        stay_update={
            "refused_at": now,
            "refusal_reason": command.reason,
        },
        transit_country=_latest_stay(record)["transit_country"],
    )


def _record_transit_entry(
    record: CaseRecord, command: commands.RecordTransitEntry, _actor: Actor, _now: datetime
) -> Effect:
    entered = command.entered_at
    _not_before_previous_milestone(record, entered, "The entry date")
    until = entered + timedelta(days=TRANSIT_DAYS)
    effect = Effect(
        payload={"entered_at": entered.isoformat(), "authorised_until": until.isoformat()},
        stay_update={
            "entered_at": entered,
            "authorised_until": until,
        },
        transit_country=_latest_stay(record)["transit_country"],
    )
    if record.case["transit_entered_at"] is None:
        effect.case["transit_entered_at"] = entered
    return effect


def _extend_transit(
    record: CaseRecord, command: commands.ExtendTransit, _actor: Actor, _now: datetime
) -> Effect:
    stay = _latest_stay(record)
    current_end = stay["authorised_until"]
    if current_end is None:  # the state machine's guard rules this out (a stay in transit)
        raise RuntimeError("a stay in transit has an end")
    if command.authorised_until <= current_end:
        raise Conflict(
            f"An extension must end after the current end of stay ({stay['authorised_until']})."
        )
    return Effect(
        payload={"authorised_until": command.authorised_until.isoformat()},
        stay_update={"authorised_until": command.authorised_until},
        transit_country=stay["transit_country"],
    )


def _no_open_split(record: CaseRecord) -> None:
    left_out = record.members_not_accepted
    if left_out:
        raise Conflict(
            f"{len(left_out)} current member(s) were not accepted by the resettlement state "
            f"(ids: {', '.join(str(m['id']) for m in left_out)}): resolve the split with "
            "split_case, or withdraw the submission, before recording the departure."
        )


def _record_departure(
    record: CaseRecord, command: commands.RecordDeparture, _actor: Actor, _now: datetime
) -> Effect:
    # The state machine's guard makes sure the latest submission is accepted.
    _no_open_split(record)
    departed = command.departed_at
    _not_before_previous_milestone(record, departed, "The departure date")
    departure.check_departure_arrangements(record)
    effect = Effect(
        payload={"departed_at": departed.isoformat()},
        stay_update={"exited_at": departed, "exit_reason": ExitReason.departed_to_resettlement},
    )
    if record.case["departed_at"] is None:
        effect.case["departed_at"] = departed
    return effect


def _confirm_arrival(
    record: CaseRecord, command: commands.ConfirmArrival, _actor: Actor, _now: datetime
) -> Effect:
    arrived = command.arrived_at
    _not_before_previous_milestone(record, arrived, "The arrival date")
    effect = Effect(payload={"arrived_at": arrived.isoformat()})
    if record.case["resettled_at"] is None:
        effect.case["resettled_at"] = arrived
    return effect


def _close(record: CaseRecord, command: commands.Close, _actor: Actor, now: datetime) -> Effect:
    # A live submission is withdrawn and an active stay exits: the sub-machines' steps.
    return Effect(
        case={"closed_at": now, "closure_reason": command.reason},
        payload={"reason": command.reason, "note": command.note},
        submission_update={"withdrawn_at": now},
        stay_update={"exited_at": now.date(), "exit_reason": ExitReason.case_closed},
    )


def _reopen(_record: CaseRecord, command: commands.Reopen, _actor: Actor, _now: datetime) -> Effect:
    return Effect(
        case={"closed_at": None, "closure_reason": None}, payload={"reason": command.reason}
    )


def _split_case(
    record: CaseRecord, command: commands.SplitCase, _actor: Actor, _now: datetime
) -> Effect:
    """The ids are current members (checked before the state machine); the state machine
    makes sure the split is open. The rules left are about which members move."""
    moving = frozenset(command.members)
    principal = next(m["id"] for m in record.members if m["is_principal"])
    if len(moving) == len(record.members):
        raise Conflict("split_case cannot move every current member: some must stay.")
    if principal in moving:
        raise Conflict(
            "The case's principal cannot move: make an accepted member the principal first "
            "(PATCH the members)."
        )
    not_accepted = {m["id"] for m in record.members_not_accepted}
    if moving != not_accepted:
        raise Conflict(
            "members must be exactly the current members the state did not accept: "
            f"{', '.join(sorted(str(i) for i in not_accepted))}."
        )
    plan = SplitPlan(case_id=uuid7(), members=moving, principal=command.principal)
    ids = sorted(str(i) for i in moving)
    return Effect(
        case={
            "split_into": [*(record.case["split_into"] or ()), str(plan.case_id)],
            "member_count": len(record.members) - len(moving),
        },
        payload={
            "members": ids,
            "principal": str(command.principal),
            "reason": command.reason,
            "split_into": str(plan.case_id),
        },
        split=plan,
    )


def _set_legal_hold(
    _record: CaseRecord, command: commands.SetLegalHold, _actor: Actor, _now: datetime
) -> Effect:
    return Effect(
        case={"legal_hold": command.hold}, payload={"hold": command.hold, "reason": command.reason}
    )


HANDLERS: Mapping[Action, Handler] = {
    Action.start_assessment: _plain,
    Action.request_review: _request_review,
    Action.return_to_assessment: _return_to_assessment,
    Action.submit: _submit,
    Action.decide: _decide,
    Action.resubmit: _submit,
    Action.withdraw_submission: _withdraw_submission,
    Action.request_transit: _request_transit,
    Action.authorise_transit: _authorise_transit,
    Action.refuse_transit: _refuse_transit,
    Action.record_transit_entry: _record_transit_entry,
    Action.extend_transit: _extend_transit,
    Action.record_departure: _record_departure,
    Action.confirm_arrival: _confirm_arrival,
    Action.close: _close,
    Action.reopen: _reopen,
    Action.split_case: _split_case,
    Action.provide_information: _provide_information,
    Action.update_requirement: _update_requirement,
    Action.set_legal_hold: _set_legal_hold,
}

#: Checks of what a request carries against the case's own data (422), judged after If-Match
#: and before the state's rules (api.md "Order of checks").
CHECKS: Mapping[Action, Callable[[CaseRecord, Any], None]] = {
    Action.update_requirement: departure.check_requirement,
}
