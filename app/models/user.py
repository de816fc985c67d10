from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, one_of, utcnow, uuid7
from app.vocabulary import Role


class User(Base):
    """A person who signs in. Officers are bound to one country."""

    __tablename__ = "users"
    __table_args__ = (
        one_of("role", Role),
        CheckConstraint(
            "(role IN ('resettlement_officer', 'transit_officer')) = (country IS NOT NULL)",
            name="country_for_officers",
        ),
        CheckConstraint("length(country) = 3", name="country_code"),
        #: usernames are unique ignoring case ("Ana" and "ana" would be one person to a reader)
        Index("ix_users_username_lower", func.lower(text("username")), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(server_default=text("true"), default=True)
    #: Bumped when the password changes: tokens issued before stop working.
    token_generation: Mapped[int] = mapped_column(server_default=text("0"), default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
