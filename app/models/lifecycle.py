"""The case state machine as data: ``(status, action) → next status``, with the guard on the
case's latest submission, latest stay or pathway that the action also needs.

Whatever depends only on the case's current state is a guard here, so that a failing one is
409 ``invalid_transition`` and the "allowed now" list of that answer is exact (api.md: departure
needs an accepted submission; a transit stay needs the transit pathway and no active stay).
Rules about what the request carries (dates, the extension, a state that denied the case) live
in services/actions.py and answer 409 ``conflict``.

services/lifecycle.py is the one function that applies it; nothing else writes ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.vocabulary import (
    ACTIVE_STAY,
    LIVE_SUBMISSION,
    Action,
    CaseStatus,
    Pathway,
    Stage,
    StayStatus,
    SubmissionStatus,
)

S = CaseStatus
A = Action

STAGE_OF_STATUS: Mapping[CaseStatus, Stage] = {
    S.identified: Stage.identification,
    S.assessment: Stage.identification,
    S.pending_review: Stage.identification,
    S.submitted: Stage.submission,
    S.in_transit: Stage.transit,
    S.departed: Stage.resettlement,
    S.resettled: Stage.resettlement,
    S.closed: Stage.closed,
}

#: Statuses a case can be closed from.
CLOSABLE = frozenset(S) - {S.resettled, S.closed}


@dataclass(frozen=True)
class Snapshot:
    """What a guard looks at: the case's pathway, its latest submission's and stay's status."""

    pathway: Pathway
    submission: SubmissionStatus | None
    stay: StayStatus | None


@dataclass(frozen=True)
class Guard:
    """Extra "from" conditions; ``None`` means any value."""

    submission: frozenset[SubmissionStatus | None] | None = None
    stay: frozenset[StayStatus | None] | None = None
    pathway: Pathway | None = None

    def holds(self, snapshot: Snapshot) -> bool:
        return (
            (self.submission is None or snapshot.submission in self.submission)
            and (self.stay is None or snapshot.stay in self.stay)
            and (self.pathway is None or snapshot.pathway == self.pathway)
        )


@dataclass(frozen=True)
class Step:
    #: The next status; ``None`` means "the status before closing" (reopen).
    to: CaseStatus | None
    guard: Guard = Guard()


#: The submission sub-machine: what an action does to the case's latest submission,
#: ``(its status, action) → the statuses it may go to`` (``decide`` goes where the decision
#: says). ``NEW_SUBMISSION``: actions that start the next submission, and its first status.
DECISIONS = frozenset(
    {
        SubmissionStatus.accepted,
        SubmissionStatus.denied,
        SubmissionStatus.on_hold,
        SubmissionStatus.information_requested,
    }
)
SUBMISSION_TRANSITIONS: Mapping[tuple[SubmissionStatus, Action], frozenset[SubmissionStatus]] = {
    (SubmissionStatus.pending, A.decide): DECISIONS,
    (SubmissionStatus.on_hold, A.decide): DECISIONS,
    (SubmissionStatus.pending, A.withdraw_submission): frozenset({SubmissionStatus.withdrawn}),
    (SubmissionStatus.on_hold, A.withdraw_submission): frozenset({SubmissionStatus.withdrawn}),
    **{(live, A.close): frozenset({SubmissionStatus.withdrawn}) for live in LIVE_SUBMISSION},
    (SubmissionStatus.information_requested, A.decide): DECISIONS,
    (SubmissionStatus.information_requested, A.withdraw_submission): frozenset(
        {SubmissionStatus.withdrawn}
    ),
    (SubmissionStatus.information_requested, A.provide_information): frozenset(
        {SubmissionStatus.pending}
    ),
}
NEW_SUBMISSION: Mapping[Action, SubmissionStatus] = {
    A.submit: SubmissionStatus.pending,
    A.resubmit: SubmissionStatus.pending,
}

#: The transit stay sub-machine: ``(the latest stay's status, action) → its next status``.
#: ``NEW_STAY``: actions that request a new stay, and its first status.
STAY_TRANSITIONS: Mapping[tuple[StayStatus, Action], StayStatus] = {
    (StayStatus.requested, A.authorise_transit): StayStatus.authorised,
    (StayStatus.requested, A.refuse_transit): StayStatus.refused,
    (StayStatus.authorised, A.record_transit_entry): StayStatus.in_transit,
    (StayStatus.in_transit, A.extend_transit): StayStatus.in_transit,
    **{(active, A.record_departure): StayStatus.exited for active in ACTIVE_STAY},
    **{(active, A.close): StayStatus.exited for active in ACTIVE_STAY},
}
NEW_STAY: Mapping[Action, StayStatus] = {A.request_transit: StayStatus.requested}


def submission_from(action: Action) -> frozenset[SubmissionStatus | None]:
    """The latest submission statuses the sub-machine moves on with this action."""
    return frozenset(status for status, a in SUBMISSION_TRANSITIONS if a is action)


def stay_from(action: Action) -> frozenset[StayStatus | None]:
    return frozenset(status for status, a in STAY_TRANSITIONS if a is action)


def next_submission_status(
    current: SubmissionStatus | None, action: Action, chosen: SubmissionStatus | None = None
) -> SubmissionStatus | None:
    """Where the latest submission goes with this action (``chosen``: the decision), or None
    when the action leaves it as it is."""
    if current is None:
        return None
    allowed = SUBMISSION_TRANSITIONS.get((current, action))
    if allowed is None:
        return None
    if len(allowed) == 1:
        (only,) = allowed
        return only
    if chosen not in allowed:
        raise ValueError(f"{action} cannot take a {current} submission to {chosen}")
    return chosen


def next_stay_status(current: StayStatus | None, action: Action) -> StayStatus | None:
    """Where the latest stay goes with this action, or None when it stays as it is."""
    return None if current is None else STAY_TRANSITIONS.get((current, action))


ANY = Guard()
#: Guards on the sub-machines: the action needs a latest submission / stay it can move.
SUBMISSION_UNDECIDED = Guard(submission=submission_from(A.decide))
SUBMISSION_WITHDRAWABLE = Guard(submission=submission_from(A.withdraw_submission))
SUBMISSION_ENDED = Guard(
    submission=frozenset({SubmissionStatus.denied, SubmissionStatus.withdrawn})
)
NO_ACTIVE_STAY_ON_TRANSIT = Guard(
    stay=frozenset({None, *(frozenset(StayStatus) - ACTIVE_STAY)}), pathway=Pathway.transit
)
STAY_REQUESTED = Guard(stay=stay_from(A.authorise_transit) & stay_from(A.refuse_transit))
STAY_AUTHORISED = Guard(stay=stay_from(A.record_transit_entry))
STAY_IN_TRANSIT = Guard(stay=stay_from(A.extend_transit))
SUBMISSION_ACCEPTED = frozenset({SubmissionStatus.accepted})
SUBMISSION_AWAITING_INFORMATION = Guard(submission=submission_from(A.provide_information))
DEPARTURE_ARRANGEMENTS = Guard(submission=SUBMISSION_ACCEPTED)

TRANSITIONS: Mapping[tuple[CaseStatus, Action], Step] = {
    (S.identified, A.start_assessment): Step(S.assessment),
    (S.assessment, A.request_review): Step(S.pending_review),
    (S.pending_review, A.return_to_assessment): Step(S.assessment),
    (S.pending_review, A.submit): Step(S.submitted),
    (S.submitted, A.decide): Step(S.submitted, SUBMISSION_UNDECIDED),
    (S.in_transit, A.decide): Step(S.in_transit, SUBMISSION_UNDECIDED),
    (S.submitted, A.resubmit): Step(S.submitted, SUBMISSION_ENDED),
    (S.in_transit, A.resubmit): Step(S.in_transit, SUBMISSION_ENDED),
    (S.submitted, A.withdraw_submission): Step(S.pending_review, SUBMISSION_WITHDRAWABLE),
    (S.in_transit, A.withdraw_submission): Step(S.in_transit, SUBMISSION_WITHDRAWABLE),
    (S.submitted, A.request_transit): Step(S.submitted, NO_ACTIVE_STAY_ON_TRANSIT),
    (S.submitted, A.authorise_transit): Step(S.submitted, STAY_REQUESTED),
    (S.submitted, A.refuse_transit): Step(S.submitted, STAY_REQUESTED),
    (S.submitted, A.record_transit_entry): Step(S.in_transit, STAY_AUTHORISED),
    (S.in_transit, A.extend_transit): Step(S.in_transit, STAY_IN_TRANSIT),
    (S.submitted, A.record_departure): Step(
        S.departed, Guard(submission=SUBMISSION_ACCEPTED, pathway=Pathway.in_country)
    ),
    (S.in_transit, A.record_departure): Step(S.departed, Guard(submission=SUBMISSION_ACCEPTED)),
    (S.departed, A.confirm_arrival): Step(S.resettled),
    **{(status, A.close): Step(S.closed) for status in CLOSABLE},
    (S.closed, A.reopen): Step(None),
    (S.submitted, A.provide_information): Step(S.submitted, SUBMISSION_AWAITING_INFORMATION),
    (S.in_transit, A.provide_information): Step(S.in_transit, SUBMISSION_AWAITING_INFORMATION),
    (S.submitted, A.update_requirement): Step(S.submitted, DEPARTURE_ARRANGEMENTS),
    (S.in_transit, A.update_requirement): Step(S.in_transit, DEPARTURE_ARRANGEMENTS),
}


def step_for(status: CaseStatus, action: Action, snapshot: Snapshot) -> Step | None:
    """The step this action takes from here, or None when it is not available."""
    step = TRANSITIONS.get((status, action))
    return step if step is not None and step.guard.holds(snapshot) else None


def available_actions(status: CaseStatus, snapshot: Snapshot) -> list[Action]:
    return [action for action in Action if step_for(status, action, snapshot) is not None]


INITIAL_STATUS = S.identified

#: The statuses of each stage (the ``stage`` filter).
STAGE_STATUSES: Mapping[Stage, frozenset[CaseStatus]] = {
    stage: frozenset(s for s, of in STAGE_OF_STATUS.items() if of is stage) for stage in Stage
}
