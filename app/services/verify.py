"""``pta audit verify``: recompute every case's chain, every seal and the seal chain from the
tables themselves (domain.md "Tamper-evident history and access log"), in one snapshot and
in bounded memory — the rows stream through once, and what is kept is one running SHA-256
per seal and the case at hand.

The first broken item is named: an event whose hash does not follow from its content and
its predecessor's (altered, or an event before it removed), an event inserted into a chain,
a seal whose root does not follow from the rows and hashes it sealed (a sealed access-log
row altered or removed, a case's latest events removed or inserted up to that seal, the
seal altered), or a seal whose ``prev`` is not the previous seal's root."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.base import Executable

from app import chain
from app.db import Row, SqlaDb
from app.models import AccessLogEntry, CaseEvent, Seal
from app.models.rows import SealRow
from app.services.seals import access_lines

EVENTS: Executable = select(
    CaseEvent.id,
    CaseEvent.case_id,
    CaseEvent.at,
    CaseEvent.action,
    CaseEvent.from_status,
    CaseEvent.to_status,
    CaseEvent.user_id,
    CaseEvent.role,
    CaseEvent.payload,
    CaseEvent.hash,
    CaseEvent.payload_digest,
).order_by(CaseEvent.case_id, CaseEvent.id)


@dataclass
class Report:
    cases: int = 0
    events: int = 0
    erased_events: int = 0
    seals: int = 0
    sealed_rows: int = 0
    unsealed_rows: int = 0
    unsealed_events: int = 0
    #: the first broken item, said in one line (None: everything holds)
    broken: str | None = None

    def summary(self) -> str:
        return (
            f"{self.cases:,} cases ({self.events:,} events, {self.erased_events:,} of them "
            f"erased), {self.seals:,} seals over {self.sealed_rows:,} access-log rows; "
            f"not sealed yet: {self.unsealed_rows:,} access-log rows, "
            f"{self.unsealed_events:,} events"
        )


@dataclass
class _Seals:
    """The seals with one running SHA-256 each, fed in the order of app/chain.py."""

    rows: list[SealRow]
    roots: list[Any] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.roots = [hashlib.sha256() for _ in self.rows]
        self.counts = [0] * len(self.rows)
        self.last_ids = [seal["last_id"] for seal in self.rows]
        self.last_event_ids = [seal["last_event_id"] for seal in self.rows]

    def of_event(self, event_id: int) -> int | None:
        """The seal whose window (after the previous seal's last event) holds this event."""
        index = bisect.bisect_left(self.last_event_ids, event_id)
        return index if index < len(self.rows) else None

    def of_entry(self, entry_id: int) -> int | None:
        index = bisect.bisect_left(self.last_ids, entry_id)
        return index if index < len(self.rows) else None

    def feed(self, index: int, line: str) -> None:
        self.roots[index].update(line.encode())


class _Chains:
    """One case at a time: its chain, and its latest hash in each seal's window."""

    def __init__(self, seals: _Seals, report: Report) -> None:
        self.seals, self.report = seals, report
        self.case: Any = None
        self.previous = self.before_previous = chain.ZERO_HASH
        self.previous_id: int | None = None
        self.window: int | None = None  # the seal window of the case's latest event so far

    def _end_case(self) -> None:
        if self.case is not None and self.window is not None:
            self.seals.feed(self.window, chain.head_line(self.case, self.previous))

    def add(self, row: Row) -> str | None:
        """Check one event (in case and id order); a broken item says what is wrong."""
        if row["case_id"] != self.case:
            self._end_case()
            self.case, self.window, self.previous_id = row["case_id"], None, None
            self.previous = self.before_previous = chain.ZERO_HASH
            self.report.cases += 1
        self.report.events += 1
        if row["payload_digest"] is not None:
            self.report.erased_events += 1
        if chain.hash_of_row(row, self.previous) != row["hash"]:
            where = f"case {row['case_id']} event {row['id']}"
            if self.previous_id is not None and (
                chain.hash_of_row(row, self.before_previous) == row["hash"]
            ):
                return (
                    f"case {row['case_id']} event {self.previous_id}: inserted into the chain "
                    f"(event {row['id']} was chained to the event before it)"
                )
            return (
                f"{where}: its hash does not follow from its content and the hash before it "
                "(the event altered, or an event before it removed or inserted)"
            )
        window = self.seals.of_event(row["id"])
        if window != self.window and self.window is not None:
            self.seals.feed(self.window, chain.head_line(self.case, self.previous))
        if window is None:
            self.report.unsealed_events += 1
        self.window = window
        self.before_previous, self.previous = self.previous, row["hash"]
        self.previous_id = row["id"]
        return None

    def finish(self) -> None:
        self._end_case()


def _check_seals(seals: _Seals) -> str | None:
    """Each seal's root from what was fed, then the seal chain; the first that fails."""
    prev, after = chain.ZERO_HASH, 0
    for index, seal in enumerate(seals.rows):
        where = f"seal {seal['id']}"
        if seal["first_id"] != after + 1:
            return f"{where}: its first access-log id is {seal['first_id']}, not {after + 1}"
        if seals.counts[index] != seal["count"]:
            return (
                f"{where}: it sealed {seal['count']:,} access-log rows (ids {seal['first_id']}"
                f"–{seal['last_id']}), {seals.counts[index]:,} are there now (a sealed row "
                "removed or added)"
            )
        root = seals.roots[index]
        root.update(
            chain.seal_line(
                seal["prev"],
                seal["first_id"],
                seal["last_id"],
                seal["count"],
                seal["last_event_id"],
            ).encode()
        )
        if root.hexdigest() != seal["root"]:
            return (
                f"{where}: its root does not follow from what it sealed (a sealed access-log row "
                f"among ids {seal['first_id']}–{seal['last_id']} altered, a case's events up to "
                f"event {seal['last_event_id']} removed or inserted, or the seal altered)"
            )
        if seal["prev"] != prev:
            return f"{where}: its prev is not the root of the seal before it"
        prev, after = seal["root"], seal["last_id"]
    return None


async def verify(engine: AsyncEngine) -> Report:
    """Everything, in one read-only snapshot (REPEATABLE READ on PostgreSQL)."""
    report = Report()
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        conn = await conn.execution_options(pta_read_only=True)
        async with conn.begin():
            db = SqlaDb(conn)
            if db.dialect.is_postgresql:
                await conn.execute(text("SET LOCAL statement_timeout = 0"))
                await conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            rows = await db.all(select(Seal).order_by(Seal.id))
            seals = _Seals([cast(SealRow, row) for row in rows])
            report.seals = len(seals.rows)
            sealed_upto = seals.last_ids[-1] if seals.rows else 0
            async for entry_id, line in access_lines(db, 0, sealed_upto):
                index = seals.of_entry(entry_id)
                if index is not None:
                    seals.feed(index, line)
                    seals.counts[index] += 1
            report.sealed_rows = sum(seals.counts)
            unsealed = select(func.count()).where(AccessLogEntry.id > sealed_upto)
            report.unsealed_rows = int(await db.scalar(unsealed) or 0)
            chains = _Chains(seals, report)
            async for row in db.stream(EVENTS):
                broken = chains.add(row)
                if broken is not None:
                    report.broken = broken
                    return report
            chains.finish()
    report.broken = _check_seals(seals)
    return report
