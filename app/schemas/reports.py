"""Funnel and transit reports: what managers, UNHCR and officers (their slice) receive."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import CountryCode, IsoDate, today
from app.vocabulary import FunnelStage

#: The PTA's first referrals date from 2016; the published figures count from 2016-01-01.
PROGRAMME_START = date(2016, 1, 1)


class Basis(StrEnum):
    cumulative = "cumulative"
    cohort = "cohort"


class GroupBy(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"
    origin_country = "origin_country"
    resettlement_country = "resettlement_country"


PERIODS = frozenset({GroupBy.month, GroupBy.quarter, GroupBy.year})


class FunnelQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: IsoDate = Field(default=PROGRAMME_START, alias="from")
    to: IsoDate = Field(default_factory=today)
    basis: Basis = Basis.cumulative
    as_of: IsoDate = Field(default_factory=today)
    origin_country: CountryCode | None = None
    resettlement_country: CountryCode | None = None
    transit_country: CountryCode | None = None
    group_by: GroupBy | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self

    def filters(self) -> dict[str, str]:
        names = ("origin_country", "resettlement_country", "transit_country")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class StageCount(BaseModel):
    stage: FunnelStage
    cases: int
    people: int
    #: cohort basis only: median days from identification to this stage
    median_days: float | None = None


class FunnelGroup(BaseModel):
    key: str | None
    stages: list[StageCount]


class FunnelReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    definition: str
    basis: Basis
    from_: date = Field(alias="from")
    to: date
    as_of: date
    filters: dict[str, Any]
    group_by: GroupBy | None = None
    stages: list[StageCount]
    groups: list[FunnelGroup]


class TransitStayLine(BaseModel):
    case_id: uuid.UUID
    reference: str
    entered_at: date
    authorised_until: date
    people: int
    state: Literal["ok", "ending_soon", "overstay"]


class TransitCountry(BaseModel):
    transit_country: str
    capacity: int | None
    households_in_transit: int
    people_in_transit: int
    occupancy: float | None
    ending_within_30_days: int
    overstays: int
    stays: list[TransitStayLine]


class TransitReport(BaseModel):
    as_of: date
    countries: list[TransitCountry]
