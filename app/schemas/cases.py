"""What clients send to create and change a case."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.schemas.common import (
    NO_NUL,
    CountryCode,
    IsoDate,
    IsoTimestamp,
    LongText,
    PartialUpdate,
    PastDate,
    ShortText,
    StrictInput,
)
from app.vocabulary import CaseStatus, Pathway, Priority, Sex, Stage

MAX_MEMBERS = 30

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)
]
Relationship = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=NO_NUL)
]
#: ``q`` of the case list: 1–200 characters once trimmed (domain.md "Search").
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
DocumentNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NO_NUL)
]


class MemberIn(StrictInput):
    is_principal: StrictBool
    given_name: Name
    family_name: Name
    sex: Sex
    date_of_birth: PastDate
    dob_estimated: StrictBool = False
    nationality: CountryCode
    relationship: Relationship = Field(examples=["principal", "spouse", "child"])
    document_number: DocumentNumber | None = None


class MemberUpdate(MemberIn):
    """A member in a PATCH: with the ``id`` of a current member it updates that member;
    without one it is a new member (it gets a new id)."""

    id: uuid.UUID | None = Field(
        default=None, description="A current member's id; leave out for a new member."
    )


Members = Annotated[list[MemberIn], Field(min_length=1, max_length=MAX_MEMBERS)]
MemberUpdates = Annotated[list[MemberUpdate], Field(min_length=1, max_length=MAX_MEMBERS)]


def check_one_principal(members: list[MemberIn] | list[MemberUpdate]) -> None:
    principals = sum(1 for member in members if member.is_principal)
    if principals != 1:
        raise ValueError(f"a case needs exactly one principal member, got {principals}")


def check_no_repeats(ids: list[uuid.UUID], what: str) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError(f"{what} names a member more than once")


class CaseCreate(StrictInput):
    origin_country: CountryCode
    pathway: Pathway
    processing_priority: Priority
    referral_source: ShortText | None = None
    protection_summary: LongText | None = None
    identified_at: PastDate | None = Field(default=None, description="Defaults to today (UTC).")
    members: Members

    @model_validator(mode="after")
    def _one_principal(self) -> Self:
        check_one_principal(self.members)
        return self


class CaseUpdate(PartialUpdate):
    """Only the fields given change. ``members`` replaces the whole list."""

    NOT_NULL = ("processing_priority", "pathway", "members")

    processing_priority: Priority | None = None
    referral_source: ShortText | None = None
    protection_summary: LongText | None = None
    pathway: Pathway | None = None
    members: MemberUpdates | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.members is not None:
            check_one_principal(self.members)
            check_no_repeats([m.id for m in self.members if m.id is not None], "members")
        return self


class CaseFilters(BaseModel):
    """Filters of ``GET /cases`` and its CSV export (all optional, combined with AND).
    Unknown query parameters are refused by the API layer for every endpoint alike."""

    stage: Stage | None = None
    status: CaseStatus | None = None
    origin_country: CountryCode | None = None
    resettlement_country: CountryCode | None = None
    transit_country: CountryCode | None = None
    processing_priority: Priority | None = None
    identified_from: IsoDate | None = None
    identified_to: IsoDate | None = None
    updated_since: IsoTimestamp | None = None
    q: Annotated[
        SearchText | None,
        Field(
            description="Search: the reference, a member's document number, or the starts of "
            "words of one member's given and family names (case and accents ignored)."
        ),
    ] = None
    requirements_overdue: Annotated[
        StrictBool | None,
        Field(
            json_schema_extra={"enum": [True]},
            description="true: only cases with an overdue departure requirement.",
        ),
    ] = None

    @field_validator("requirements_overdue", mode="before")
    @classmethod
    def _only_true(cls, value: object) -> object:
        if value not in (True, "true"):
            raise ValueError("the only value is true")
        return True

    @model_validator(mode="after")
    def _ordered_range(self) -> Self:
        if (
            self.identified_from
            and self.identified_to
            and self.identified_from > self.identified_to
        ):
            raise ValueError("identified_from must not be after identified_to")
        return self

    def given(self) -> dict[str, Any]:
        """The filters actually used, as JSON-ready values (for the access log)."""
        return self.model_dump(mode="json", exclude_none=True)
