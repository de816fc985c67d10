"""Four eyes: a case goes to a resettlement state only when a second UNHCR officer — not the
one who drafted it, nor anyone who changed it since review was requested — submits it. The
same holds for a resubmission, judged against the last ``request_review`` and the changes
since (so the drafter cannot resubmit alone after a denial, nor can a supervisor who edited
the case after review was requested)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from app.errors import FourEyes
from app.models.record import CaseRecord
from app.services.policy.actions import Actor
from app.vocabulary import Action

#: The actions that send the case to a state, and so need a second pair of eyes.
FOUR_EYES_ACTIONS = frozenset({Action.submit, Action.resubmit})


def check_four_eyes(
    actor: Actor, action: Action, record: CaseRecord, changed_by: Collection[uuid.UUID]
) -> None:
    """``changed_by``: who changed the case (PATCH) since review was last requested."""
    if action not in FOUR_EYES_ACTIONS:
        return
    if record.case["drafted_by"] == actor.id:
        raise FourEyes(f"The user who requested review may not {action} the case (four eyes).")
    if actor.id in changed_by:
        raise FourEyes(
            f"A user who changed the case since review was requested may not {action} it "
            "(four eyes)."
        )
