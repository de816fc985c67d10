"""Field types shared by every resource, and the list and problem envelopes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.vocabulary import COUNTRY_CODES

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def today() -> date:
    """ "Today" is the UTC date."""
    return datetime.now(UTC).date()


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-3 country code, such as SLV or USA")
    return value


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _iso_timestamp_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_TIMESTAMP.match(value):
        raise ValueError("must be a timestamp written YYYY-MM-DDThh:mm:ss with an offset or Z")
    return value


#: Dates and timestamps the service accepts (in bodies and query parameters alike): nothing
#: in this programme lies outside them, and beyond them databases disagree (PostgreSQL
#: stores 9999-12-31 as infinity, SQLite's date functions stop at year 9999).
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
_RANGE = f"must lie between {EARLIEST} and {LATEST}"


def _date_in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(_RANGE)
    return value


def _timestamp_in_range(value: datetime) -> datetime:
    """Judged in UTC (an offset of hours can move a timestamp across a year's edge)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(_RANGE) from None
    _date_in_range(utc.date())
    return value


def _not_future(value: date) -> date:
    if value > today():
        raise ValueError("must not be in the future")
    return value


CountryCode = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(_country),
    Field(examples=["SLV"], json_schema_extra={"pattern": "^[A-Z]{3}$"}),
]
#: The years EARLIEST…LATEST, as a JSON Schema pattern says them to clients and fuzzers.
YEARS_PATTERN = r"^(19[0-9]{2}|20[0-9]{2}|2100)-"
#: The one date type: ``YYYY-MM-DD`` between EARLIEST and LATEST.
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date_text),
    AfterValidator(_date_in_range),
    Field(json_schema_extra={"pattern": YEARS_PATTERN}),
]
#: The one timestamp type: with its offset (a bare number is not read as seconds since
#: 1970), between EARLIEST and LATEST in UTC.
IsoTimestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_timestamp_text),
    AfterValidator(_timestamp_in_range),
    Field(json_schema_extra={"pattern": YEARS_PATTERN}),
]
PastDate = Annotated[IsoDate, AfterValidator(_not_future)]
#: Texts hold no NUL character: it is never meaningful here, and PostgreSQL cannot store one.
NO_NUL = r"^[^\x00]*$"
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NO_NUL)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000, pattern=NO_NUL)
]


class StrictInput(BaseModel):
    """Request bodies: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_max_length=20000)


def without_null(field: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema ``{anyOf: [X, null], default: null, title}`` → X (with the title)."""
    options = [o for o in field.get("anyOf", ()) if o != {"type": "null"}]
    if len(options) != 1:
        return field
    rest = {k: v for k, v in field.items() if k not in ("anyOf", "default")}
    return {**options[0], **rest}


def required_when(
    schema: dict[str, Any], field: str, values: Any, required: str, *, otherwise_null: bool = False
) -> None:
    """State in JSON Schema that ``required`` must be given (and not null) when ``field`` is one
    of ``values`` — the rule a model's validator checks, said to clients and fuzzers."""
    target = without_null(schema["properties"][required])
    schema["if"] = {"properties": {field: {"enum": sorted(values)}}, "required": [field]}
    schema["then"] = {"required": [required], "properties": {required: target}}
    if otherwise_null:
        schema["else"] = {"properties": {required: {"type": "null"}}}


def _partial_update_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    schema["minProperties"] = 1
    for name in getattr(model, "NOT_NULL", ()):
        schema["properties"][name] = without_null(schema["properties"][name])


class PartialUpdate(BaseModel):
    """A body that changes only what it gives: at least one field, and the fields named in
    ``NOT_NULL`` may be left out but never sent as null. Checked here and stated in the JSON
    Schema, from the same ``NOT_NULL``."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ()
    model_config = ConfigDict(
        extra="forbid", str_max_length=20000, json_schema_extra=_partial_update_schema
    )

    @model_validator(mode="after")
    def _something_not_null(self) -> Self:
        given = self.model_fields_set
        if not given:
            raise ValueError("nothing to change: give at least one field")
        for name in self.NOT_NULL:
            if name in given and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=False)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str
    errors: list[dict[str, Any]] | None = None
