from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints, model_validator

from app.schemas.common import NO_NUL, CountryCode, PartialUpdate, StrictInput, required_when
from app.vocabulary import COUNTRY_ROLES, Role

MIN_PASSWORD_LENGTH = 12

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
]
Password = Annotated[
    str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=256, pattern=NO_NUL)
]


def check_country_for_role(role: Role, country: str | None) -> None:
    if role in COUNTRY_ROLES and country is None:
        raise ValueError(f"country is required for the {role} role")
    if role not in COUNTRY_ROLES and country is not None:
        raise ValueError(f"country is only for officers, not for the {role} role")


def _country_for_officers(schema: dict[str, Any]) -> None:
    required_when(schema, "role", COUNTRY_ROLES, "country", otherwise_null=True)


class UserCreate(StrictInput):
    model_config = ConfigDict(json_schema_extra=_country_for_officers)

    username: Username
    password: Password
    role: Role
    country: CountryCode | None = None

    @model_validator(mode="after")
    def _country_matches_role(self) -> Self:
        check_country_for_role(self.role, self.country)
        return self


class UserUpdate(PartialUpdate):
    """Change what is given; ``country`` is checked against the resulting role (``null``
    clears it, for a role without one)."""

    NOT_NULL = ("active", "role", "password")

    active: StrictBool | None = None
    role: Role | None = None
    country: CountryCode | None = None
    password: Password | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    country: str | None
    active: bool


class UserAdminOut(UserOut):
    created_at: datetime
    updated_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int
