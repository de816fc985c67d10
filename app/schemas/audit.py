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
