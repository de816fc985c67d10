"""After the load: every write a client saw acknowledged is in the database exactly once.

The database's own record is the case history (one ``case_events`` row per write, in order)
and each case's creation key, kept in its ``referral_source``. It is compared with what the
clients were told, case by case."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from deploy_test.client import Ledger

HISTORIES = """
SELECT c.id, c.referral_source, c.version, string_agg(e.action, ',' ORDER BY e.id)
FROM cases c JOIN case_events e ON e.case_id = c.id
WHERE c.referral_source LIKE 'load-%'
GROUP BY c.id, c.referral_source, c.version
"""


class Database(Protocol):
    """Where the histories are read (the primary; a stand-in in the harness's own tests)."""

    def rows(self, sql: str) -> list[list[str]]: ...


@dataclass(frozen=True)
class WriteCount:
    acknowledged: int
    lost: int  # acknowledged, not in the database
    duplicated: int  # in the database more often than acknowledged
    unacknowledged: int  # in the database, never acknowledged (a client that gave up)
    wrong_version: int  # a case whose version is not its last acknowledged answer's


def count_writes(primary: Database, ledger: Ledger) -> WriteCount:
    rows = primary.rows(HISTORIES)
    markers = Counter(row[1] for row in rows)
    history = {row[0]: row[3].split(",") for row in rows}
    versions = {row[0]: int(row[2]) for row in rows}
    acknowledged_keys = {f"load-{key}" for key in ledger.created}
    lost = duplicated = wrong_version = 0
    for case_id, told in ledger.acknowledged.items():
        stored = history.get(case_id, [])
        if stored[: len(told)] != told:
            lost += len(told) - _common_prefix(stored, told)
        duplicated += max(0, len(stored) - len(told))
        wrong_version += versions.get(case_id) != ledger.versions[case_id]
    duplicated += sum(count - 1 for count in markers.values() if count > 1)
    unacknowledged = sum(1 for marker in markers if marker not in acknowledged_keys)
    return WriteCount(
        acknowledged=sum(len(told) for told in ledger.acknowledged.values()),
        lost=lost,
        duplicated=duplicated,
        unacknowledged=unacknowledged,
        wrong_version=wrong_version,
    )


def _common_prefix(stored: list[str], told: list[str]) -> int:
    same = 0
    for mine, theirs in zip(stored, told, strict=False):
        if mine != theirs:
            break
        same += 1
    return same
