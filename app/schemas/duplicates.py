"""``GET /cases/{id}/possible-duplicates``."""

from __future__ import annotations

import uuid

from app.schemas.common import Output
from app.vocabulary import DuplicateReason


class PossibleDuplicate(Output):
    """A member of another case (``other_member_id`` in ``case_id``) who may be the same person
    as ``member_id`` of this case, for the strongest reason that holds."""

    case_id: uuid.UUID
    reference: str
    member_id: uuid.UUID
    other_member_id: uuid.UUID
    reason: DuplicateReason


class PossibleDuplicates(Output):
    items: list[PossibleDuplicate]
