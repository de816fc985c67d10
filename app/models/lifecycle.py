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


ANY = Guard()
SUBMISSION_UNDECIDED = Guard(
    submission=frozenset({SubmissionStatus.pending, SubmissionStatus.on_hold})
)
SUBMISSION_ENDED = Guard(
    submission=frozenset({SubmissionStatus.denied, SubmissionStatus.withdrawn})
)
NO_ACTIVE_STAY_ON_TRANSIT = Guard(
    stay=frozenset({None, StayStatus.refused, StayStatus.exited}), pathway=Pathway.transit
)
STAY_REQUESTED = Guard(stay=frozenset({StayStatus.requested}))
STAY_AUTHORISED = Guard(stay=frozenset({StayStatus.authorised}))
STAY_IN_TRANSIT = Guard(stay=frozenset({StayStatus.in_transit}))
SUBMISSION_ACCEPTED = frozenset({SubmissionStatus.accepted})

TRANSITIONS: Mapping[tuple[CaseStatus, Action], Step] = {
    (S.identified, A.start_assessment): Step(S.assessment),
    (S.assessment, A.request_review): Step(S.pending_review),
    (S.pending_review, A.return_to_assessment): Step(S.assessment),
    (S.pending_review, A.submit): Step(S.submitted),
    (S.submitted, A.decide): Step(S.submitted, SUBMISSION_UNDECIDED),
    (S.in_transit, A.decide): Step(S.in_transit, SUBMISSION_UNDECIDED),
    (S.submitted, A.resubmit): Step(S.submitted, SUBMISSION_ENDED),
    (S.in_transit, A.resubmit): Step(S.in_transit, SUBMISSION_ENDED),
    (S.submitted, A.withdraw_submission): Step(S.pending_review, SUBMISSION_UNDECIDED),
    (S.in_transit, A.withdraw_submission): Step(S.in_transit, SUBMISSION_UNDECIDED),
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
