"""The body of ``POST /cases/{id}/transitions``: one model per action, told apart by ``action``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, TypeAdapter, model_validator

from app.schemas.cases import MAX_MEMBERS, check_no_repeats
from app.schemas.common import (
    CountryCode,
    IsoDate,
    PastDate,
    ShortText,
    StrictInput,
    required_when,
    without_null,
)
from app.vocabulary import (
    Category,
    ClosureReason,
    Decision,
    Priority,
    RequirementItem,
    RequirementStatus,
    WithdrawalReason,
)

#: Member ids a request names: judged against the case's current members (422) after
#: If-Match and before the state machine (api.md "Order of checks").
MemberIds = Annotated[
    list[uuid.UUID],
    Field(min_length=1, max_length=MAX_MEMBERS, json_schema_extra={"uniqueItems": True}),
]


class StartAssessment(StrictInput):
    action: Literal["start_assessment"]


class RequestReview(StrictInput):
    action: Literal["request_review"]


class ReturnToAssessment(StrictInput):
    action: Literal["return_to_assessment"]
    reason: ShortText


class SubmissionFields(StrictInput):
    resettlement_country: CountryCode
    submission_priority: Priority
    primary_category: Category
    secondary_category: Category


class Submit(SubmissionFields):
    action: Literal["submit"]


class Resubmit(SubmissionFields):
    action: Literal["resubmit"]


#: Decisions that need the state's reason (for information_requested: the state's question).
DECISIONS_WITH_REASON = frozenset(
    {Decision.denied, Decision.on_hold, Decision.information_requested}
)


def _reason_for_decisions(schema: dict[str, Any]) -> None:
    required_when(schema, "decision", DECISIONS_WITH_REASON, "reason")
    _accepted_members_only_when_accepted(schema)


def _accepted_members_only_when_accepted(schema: dict[str, Any]) -> None:
    """``accepted_members`` goes with ``decision: accepted`` only (else 422)."""
    others = sorted(set(Decision) - {Decision.accepted})
    schema.setdefault("allOf", []).append(
        {
            "if": {"properties": {"decision": {"enum": others}}, "required": ["decision"]},
            "then": {"properties": {"accepted_members": {"type": "null"}}},
        }
    )


class Decide(StrictInput):
    model_config = ConfigDict(json_schema_extra=_reason_for_decisions)

    action: Literal["decide"]
    decision: Decision
    reason: ShortText | None = None
    accepted_members: MemberIds | None = Field(
        default=None,
        description="With decision accepted: the ids of the members the state accepts "
        "(default: every current member). Leaving out a current member makes a split.",
    )

    @model_validator(mode="after")
    def _reason_when_not_accepted(self) -> Self:
        if self.decision in DECISIONS_WITH_REASON and self.reason is None:
            raise ValueError(f"reason is required when the decision is {self.decision}")
        return self

    @model_validator(mode="after")
    def _accepted_members_with_acceptance(self) -> Self:
        if self.accepted_members is not None:
            if self.decision is not Decision.accepted:
                raise ValueError("accepted_members goes only with the decision accepted")
            check_no_repeats(self.accepted_members, "accepted_members")
        return self

    def named_members(self) -> tuple[str, list[uuid.UUID]]:
        return "accepted_members", list(self.accepted_members or ())


class WithdrawSubmission(StrictInput):
    action: Literal["withdraw_submission"]
    reason: WithdrawalReason


class RequestTransit(StrictInput):
    action: Literal["request_transit"]
    transit_country: CountryCode


class AuthoriseTransit(StrictInput):
    action: Literal["authorise_transit"]
    note: ShortText | None = None


class RefuseTransit(StrictInput):
    action: Literal["refuse_transit"]
    reason: ShortText


class RecordTransitEntry(StrictInput):
    action: Literal["record_transit_entry"]
    entered_at: PastDate


class ExtendTransit(StrictInput):
    action: Literal["extend_transit"]
    authorised_until: IsoDate


class RecordDeparture(StrictInput):
    action: Literal["record_departure"]
    departed_at: PastDate


class ConfirmArrival(StrictInput):
    action: Literal["confirm_arrival"]
    arrived_at: PastDate


class Close(StrictInput):
    action: Literal["close"]
    reason: ClosureReason
    note: ShortText | None = None


class Reopen(StrictInput):
    action: Literal["reopen"]
    reason: ShortText


class SplitCase(StrictInput):
    action: Literal["split_case"]
    members: MemberIds = Field(
        description="The current members the state did not accept: they move to a new case."
    )
    principal: uuid.UUID = Field(description="One of members: the new case's principal.")
    reason: ShortText

    @model_validator(mode="after")
    def _principal_among_members(self) -> Self:
        check_no_repeats(self.members, "members")
        if self.principal not in self.members:
            raise ValueError("principal must be one of members")
        return self

    def named_members(self) -> tuple[str, list[uuid.UUID]]:
        return "members", list(self.members)


class ProvideInformation(StrictInput):
    action: Literal["provide_information"]
    note: ShortText = Field(description="UNHCR's answer to the state's question(s).")


#: What ``update_requirement`` may change besides naming the item (at least one of them).
REQUIREMENT_CHANGES = ("status", "due_on", "done_on", "note")


def _some_requirement_change(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [{"required": [name]} for name in REQUIREMENT_CHANGES]
    for name in ("status", "done_on", "note"):
        schema["properties"][name] = without_null(schema["properties"][name])


class UpdateRequirement(StrictInput):
    """One item of the departure checklist; ``due_on`` may be null (no due date any more)."""

    model_config = ConfigDict(json_schema_extra=_some_requirement_change)

    action: Literal["update_requirement"]
    item: RequirementItem
    status: RequirementStatus | None = None
    due_on: IsoDate | None = None
    done_on: PastDate | None = None
    note: ShortText | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        given = self.model_fields_set & set(REQUIREMENT_CHANGES)
        if not given:
            raise ValueError(f"give at least one of {', '.join(REQUIREMENT_CHANGES)}")
        for name in ("status", "done_on", "note"):
            if name in given and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class SetLegalHold(StrictInput):
    action: Literal["set_legal_hold"]
    hold: bool = Field(description="true keeps the case from erasure; false lifts the hold.")
    reason: ShortText


Transition = Annotated[
    StartAssessment
    | RequestReview
    | ReturnToAssessment
    | Submit
    | Decide
    | Resubmit
    | WithdrawSubmission
    | RequestTransit
    | AuthoriseTransit
    | RefuseTransit
    | RecordTransitEntry
    | ExtendTransit
    | RecordDeparture
    | ConfirmArrival
    | Close
    | Reopen
    | SplitCase
    | ProvideInformation
    | UpdateRequirement
    | SetLegalHold,
    Field(discriminator="action"),
]

#: Actions whose request names members by id (``named_members``: the field and the ids).
NamesMembers = Decide | SplitCase

transition_adapter: TypeAdapter[Transition] = TypeAdapter(Transition)
