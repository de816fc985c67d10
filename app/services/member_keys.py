"""The keys of members (``member_keys``), kept in step with the members: whoever writes
members writes their keys through here, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Delete, Insert, Update, bindparam, delete, insert, update

from app.db import Db
from app.models import MemberKey
from app.models.rows import MemberRow
from app.services import names

INSERT_KEYS: Insert = insert(MemberKey)
DELETE_KEYS: Delete = delete(MemberKey).where(MemberKey.case_id == bindparam("of_case"))
MOVE_KEYS: Update = (
    update(MemberKey)
    .where(MemberKey.case_id == bindparam("of_case"), MemberKey.member_id == bindparam("moving"))
    .values(case_id=bindparam("to_case"))
)


def row_of(member: MemberRow) -> dict[str, Any]:
    """The key row of a member."""
    keys = names.member_keys(
        member["given_name"],
        member["family_name"],
        member["date_of_birth"],
        member["document_number"],
    )
    return {"case_id": member["case_id"], "member_id": member["id"], **asdict(keys)}


async def add(db: Db, members: Sequence[MemberRow]) -> None:
    """Keys of members just written."""
    await db.run_many(INSERT_KEYS, [row_of(member) for member in members])


async def replace(db: Db, case_id: uuid.UUID, members: Sequence[MemberRow]) -> None:
    """The case's members were written anew (a PATCH of the list): their keys too."""
    await db.run(DELETE_KEYS, {"of_case": case_id})
    await add(db, members)


async def move(
    db: Db, member_ids: Iterable[uuid.UUID], of_case: uuid.UUID, to_case: uuid.UUID
) -> None:
    """Members moved to another case (``split_case``) take their keys with them."""
    await db.run_many(
        MOVE_KEYS,
        [{"moving": m, "of_case": of_case, "to_case": to_case} for m in member_ids],
    )
