"""The body of ``POST /cases/{id}/transitions``: one model per action, told apart by ``action``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, TypeAdapter, model_validator

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


class Decide(StrictInput):
    model_config = ConfigDict(json_schema_extra=_reason_for_decisions)

    action: Literal["decide"]
    decision: Decision
    reason: ShortText | None = None

    @model_validator(mode="after")
    def _reason_when_not_accepted(self) -> Self:
        if self.decision in DECISIONS_WITH_REASON and self.reason is None:
            raise ValueError(f"reason is required when the decision is {self.decision}")
        return self


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
    | ProvideInformation
    | UpdateRequirement,
    Field(discriminator="action"),
]

transition_adapter: TypeAdapter[Transition] = TypeAdapter(Transition)
