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

STAGE_OF_STATUS: Mapping[CaseStatus, Stage] = {
    CaseStatus.identified: Stage.identification,
    CaseStatus.assessment: Stage.identification,
    CaseStatus.pending_review: Stage.identification,
    CaseStatus.submitted: Stage.submission,
    CaseStatus.in_transit: Stage.transit,
    CaseStatus.departed: Stage.resettlement,
    CaseStatus.resettled: Stage.resettlement,
    CaseStatus.closed: Stage.closed,
}

#: Statuses a case can be closed from.
CLOSABLE = frozenset(CaseStatus) - {CaseStatus.resettled, CaseStatus.closed}


@dataclass(frozen=True)
class Snapshot:
    """What a guard looks at: the case's pathway, its latest submission's and stay's status."""

    pathway: Pathway
    submission: SubmissionStatus | None
    stay: StayStatus | None
    #: a current member is not among the accepted submission's ``accepted_members``
    open_split: bool = False


@dataclass(frozen=True)
class Guard:
    """Extra "from" conditions; ``None`` means any value."""

    submission: frozenset[SubmissionStatus | None] | None = None
    stay: frozenset[StayStatus | None] | None = None
    pathway: Pathway | None = None
    open_split: bool | None = None

    def holds(self, snapshot: Snapshot) -> bool:
        return (
            (self.submission is None or snapshot.submission in self.submission)
            and (self.stay is None or snapshot.stay in self.stay)
            and (self.pathway is None or snapshot.pathway == self.pathway)
            and (self.open_split is None or snapshot.open_split == self.open_split)
        )


@dataclass(frozen=True)
class Next:
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
    (SubmissionStatus.pending, Action.decide): DECISIONS,
    (SubmissionStatus.on_hold, Action.decide): DECISIONS,
    (SubmissionStatus.pending, Action.withdraw_submission): frozenset({SubmissionStatus.withdrawn}),
    (SubmissionStatus.on_hold, Action.withdraw_submission): frozenset({SubmissionStatus.withdrawn}),
    **{(live, Action.close): frozenset({SubmissionStatus.withdrawn}) for live in LIVE_SUBMISSION},
    (SubmissionStatus.information_requested, Action.decide): DECISIONS,
    (SubmissionStatus.information_requested, Action.withdraw_submission): frozenset(
        {SubmissionStatus.withdrawn}
    ),
    (SubmissionStatus.information_requested, Action.provide_information): frozenset(
        {SubmissionStatus.pending}
    ),
}
NEW_SUBMISSION: Mapping[Action, SubmissionStatus] = {
    Action.submit: SubmissionStatus.pending,
    Action.resubmit: SubmissionStatus.pending,
}

#: The transit stay sub-machine: ``(the latest stay's status, action) → its next status``.
#: ``NEW_STAY``: actions that request a new stay, and its first status.
STAY_TRANSITIONS: Mapping[tuple[StayStatus, Action], StayStatus] = {
    (StayStatus.requested, Action.authorise_transit): StayStatus.authorised,
    (StayStatus.requested, Action.refuse_transit): StayStatus.refused,
    (StayStatus.authorised, Action.record_transit_entry): StayStatus.in_transit,
    (StayStatus.in_transit, Action.extend_transit): StayStatus.in_transit,
    **{(active, Action.record_departure): StayStatus.exited for active in ACTIVE_STAY},
    **{(active, Action.close): StayStatus.exited for active in ACTIVE_STAY},
}
NEW_STAY: Mapping[Action, StayStatus] = {Action.request_transit: StayStatus.requested}


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
SUBMISSION_UNDECIDED = Guard(submission=submission_from(Action.decide))
SUBMISSION_WITHDRAWABLE = Guard(submission=submission_from(Action.withdraw_submission))
SUBMISSION_ENDED = Guard(
    submission=frozenset({SubmissionStatus.denied, SubmissionStatus.withdrawn})
)
NO_ACTIVE_STAY_ON_TRANSIT = Guard(
    stay=frozenset({None, *(frozenset(StayStatus) - ACTIVE_STAY)}), pathway=Pathway.transit
)
STAY_REQUESTED = Guard(stay=stay_from(Action.authorise_transit) & stay_from(Action.refuse_transit))
STAY_AUTHORISED = Guard(stay=stay_from(Action.record_transit_entry))
STAY_IN_TRANSIT = Guard(stay=stay_from(Action.extend_transit))
SUBMISSION_ACCEPTED = frozenset({SubmissionStatus.accepted})
#: ``split_case``: the accepted submission left out a current member (domain.md "Split
#: decisions"); departure with an open split is a rule of record_departure (409 conflict).
OPEN_SPLIT = Guard(submission=SUBMISSION_ACCEPTED, open_split=True)
SUBMISSION_AWAITING_INFORMATION = Guard(submission=submission_from(Action.provide_information))
DEPARTURE_ARRANGEMENTS = Guard(submission=SUBMISSION_ACCEPTED)

TRANSITIONS: Mapping[tuple[CaseStatus, Action], Next] = {
    (CaseStatus.identified, Action.start_assessment): Next(CaseStatus.assessment),
    (CaseStatus.assessment, Action.request_review): Next(CaseStatus.pending_review),
    (CaseStatus.pending_review, Action.return_to_assessment): Next(CaseStatus.assessment),
    (CaseStatus.pending_review, Action.submit): Next(CaseStatus.submitted),
    (CaseStatus.submitted, Action.decide): Next(CaseStatus.submitted, SUBMISSION_UNDECIDED),
    (CaseStatus.in_transit, Action.decide): Next(CaseStatus.in_transit, SUBMISSION_UNDECIDED),
    (CaseStatus.submitted, Action.resubmit): Next(CaseStatus.submitted, SUBMISSION_ENDED),
    (CaseStatus.in_transit, Action.resubmit): Next(CaseStatus.in_transit, SUBMISSION_ENDED),
    (CaseStatus.submitted, Action.withdraw_submission): Next(
        CaseStatus.pending_review, SUBMISSION_WITHDRAWABLE
    ),
    (CaseStatus.in_transit, Action.withdraw_submission): Next(
        CaseStatus.in_transit, SUBMISSION_WITHDRAWABLE
    ),
    (CaseStatus.submitted, Action.request_transit): Next(
        CaseStatus.submitted, NO_ACTIVE_STAY_ON_TRANSIT
    ),
    (CaseStatus.submitted, Action.authorise_transit): Next(CaseStatus.submitted, STAY_REQUESTED),
    (CaseStatus.submitted, Action.refuse_transit): Next(CaseStatus.submitted, STAY_REQUESTED),
    (CaseStatus.submitted, Action.record_transit_entry): Next(
        CaseStatus.in_transit, STAY_AUTHORISED
    ),
    (CaseStatus.in_transit, Action.extend_transit): Next(CaseStatus.in_transit, STAY_IN_TRANSIT),
    (CaseStatus.submitted, Action.record_departure): Next(
        CaseStatus.departed, Guard(submission=SUBMISSION_ACCEPTED, pathway=Pathway.in_country)
    ),
    (CaseStatus.in_transit, Action.record_departure): Next(
        CaseStatus.departed, Guard(submission=SUBMISSION_ACCEPTED)
    ),
    (CaseStatus.departed, Action.confirm_arrival): Next(CaseStatus.resettled),
    **{(status, Action.close): Next(CaseStatus.closed) for status in CLOSABLE},
    (CaseStatus.closed, Action.reopen): Next(None),
    (CaseStatus.submitted, Action.split_case): Next(CaseStatus.submitted, OPEN_SPLIT),
    (CaseStatus.in_transit, Action.split_case): Next(CaseStatus.in_transit, OPEN_SPLIT),
    (CaseStatus.submitted, Action.provide_information): Next(
        CaseStatus.submitted, SUBMISSION_AWAITING_INFORMATION
    ),
    (CaseStatus.in_transit, Action.provide_information): Next(
        CaseStatus.in_transit, SUBMISSION_AWAITING_INFORMATION
    ),
    (CaseStatus.submitted, Action.update_requirement): Next(
        CaseStatus.submitted, DEPARTURE_ARRANGEMENTS
    ),
    (CaseStatus.in_transit, Action.update_requirement): Next(
        CaseStatus.in_transit, DEPARTURE_ARRANGEMENTS
    ),
    **{(status, Action.set_legal_hold): Next(status) for status in CaseStatus},
}


def step_for(status: CaseStatus, action: Action, snapshot: Snapshot) -> Next | None:
    """The step this action takes from here, or None when it is not available."""
    step = TRANSITIONS.get((status, action))
    return step if step is not None and step.guard.holds(snapshot) else None


def available_actions(status: CaseStatus, snapshot: Snapshot) -> list[Action]:
    return [action for action in Action if step_for(status, action, snapshot) is not None]


INITIAL_STATUS = CaseStatus.identified

#: The statuses of each stage (the ``stage`` filter).
STAGE_STATUSES: Mapping[Stage, frozenset[CaseStatus]] = {
    stage: frozenset(s for s, of in STAGE_OF_STATUS.items() if of is stage) for stage in Stage
}
