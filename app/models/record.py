"""A case as loaded from the database: its row and the rows that belong to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models.lifecycle import Snapshot
from app.vocabulary import ACTIVE_STAY, CaseStatus, Pathway, StayStatus, SubmissionStatus

Row = Mapping[Any, Any]


@dataclass
class CaseRecord:
    case: Row
    members: list[Row] = field(default_factory=list)
    #: oldest first (by sequence)
    submissions: list[Row] = field(default_factory=list)
    #: oldest first (by request time)
    stays: list[Row] = field(default_factory=list)
    #: the states' questions and UNHCR's answers, every submission's, oldest first
    information_requests: list[Row] = field(default_factory=list)
    #: the departure checklists of every accepted submission, in checklist order
    requirements: list[Row] = field(default_factory=list)

    @property
    def status(self) -> CaseStatus:
        return CaseStatus(self.case["status"])

    @property
    def latest_submission(self) -> Row | None:
        return self.submissions[-1] if self.submissions else None

    @property
    def latest_stay(self) -> Row | None:
        return self.stays[-1] if self.stays else None

    @property
    def active_stay(self) -> Row | None:
        stay = self.latest_stay
        return stay if stay is not None and stay["status"] in ACTIVE_STAY else None

    def snapshot(self) -> Snapshot:
        submission, stay = self.latest_submission, self.latest_stay
        return Snapshot(
            pathway=Pathway(self.case["pathway"]),
            submission=SubmissionStatus(submission["status"]) if submission else None,
            stay=StayStatus(stay["status"]) if stay else None,
        )
