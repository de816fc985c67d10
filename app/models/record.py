"""A case as loaded from the database: its row and the rows that belong to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.models.lifecycle import Snapshot
from app.models.rows import (
    CaseRow,
    InformationRequestRow,
    MemberRow,
    RequirementRow,
    StayRow,
    SubmissionRow,
)
from app.vocabulary import ACTIVE_STAY, CaseStatus, Pathway, StayStatus, SubmissionStatus


@dataclass
class CaseRecord:
    case: CaseRow
    members: list[MemberRow] = field(default_factory=list)
    #: oldest first (by sequence)
    submissions: list[SubmissionRow] = field(default_factory=list)
    #: oldest first (by request time)
    stays: list[StayRow] = field(default_factory=list)
    #: the states' questions and UNHCR's answers, every submission's, oldest first
    information_requests: list[InformationRequestRow] = field(default_factory=list)
    #: the departure checklists of every accepted submission, in checklist order
    requirements: list[RequirementRow] = field(default_factory=list)

    @property
    def status(self) -> CaseStatus:
        return CaseStatus(self.case["status"])

    @property
    def latest_submission(self) -> SubmissionRow | None:
        return self.submissions[-1] if self.submissions else None

    @property
    def latest_stay(self) -> StayRow | None:
        return self.stays[-1] if self.stays else None

    @property
    def active_stay(self) -> StayRow | None:
        stay = self.latest_stay
        return stay if stay is not None and stay["status"] in ACTIVE_STAY else None

    def snapshot(self) -> Snapshot:
        submission, stay = self.latest_submission, self.latest_stay
        return Snapshot(
            pathway=Pathway(self.case["pathway"]),
            submission=SubmissionStatus(submission["status"]) if submission else None,
            stay=StayStatus(stay["status"]) if stay else None,
            open_split=bool(self.members_not_accepted),
        )

    @property
    def members_not_accepted(self) -> list[MemberRow]:
        """The current members the latest submission, if accepted, did not accept (an open
        split while not empty)."""
        submission = self.latest_submission
        if submission is None or submission["status"] != SubmissionStatus.accepted:
            return []
        if submission["accepted_members"] is None:  # accepted before member ids: everyone
            return []
        accepted = set(submission["accepted_members"])
        return [m for m in self.members if str(m["id"]) not in accepted]
