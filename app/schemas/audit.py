from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.schemas.common import IsoTimestamp
from app.vocabulary import AccessAction, Role


class AccessLogQuery(BaseModel):
    user_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    action: AccessAction | None = None
    from_: IsoTimestamp | None = None
    to: IsoTimestamp | None = None


class AccessLogItem(BaseModel):
    id: int
    at: datetime
    user_id: uuid.UUID
    username: str
    role: Role
    action: AccessAction
    case_ids: list[uuid.UUID]
    filters: dict[str, Any]


class SealItem(BaseModel):
    """A seal as outside parties copy it (domain.md): access-log rows ``first_id``…``last_id``
    (``count`` of them; none when ``last_id`` < ``first_id``), ``root`` over them and the
    case chains, ``prev`` the previous seal's root."""

    id: int
    at: datetime
    first_id: int
    last_id: int
    count: int
    root: str
    prev: str
