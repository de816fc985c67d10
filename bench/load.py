"""Fill a fresh benchmark database with N realistic cases, fast.

Steps (``prepare_database``): create the database, bring it to the newest schema with
``pta db upgrade`` (the service's own migrations, so the schema is always the service's), create
one user per role with ``pta users create`` (the service's own password hashing), then
``load_rows``: every case is simulated through the lifecycle in worker processes (members,
submissions with some denied and resubmitted, transit stays, one event per write, milestone
dates and ``version`` consistent with the events) and streamed in with ``COPY … FREEZE``. The
tables' indexes and foreign keys are dropped first and rebuilt after (read back from the
catalog, so an index or table the lead adds is kept too), ``reference_counters`` is set past
the loaded references, ``POST_LOAD_SQL`` runs, then ``VACUUM ANALYZE``.

Extending it when the schema grows:
- a table derived from the others (a funnel rollup, a counter): add its ``INSERT … SELECT`` to
  ``POST_LOAD_SQL`` (it runs after every load, funnel-only loads included);
- a new column: write it in the row the simulation writes (``_Case``), in the model's column
  order (``COLUMNS`` is read from ``Base.metadata``, so a forgotten column fails the load);
- a new table filled per case: add it to ``CASE_TABLES`` and write its rows in ``_Case``;
- the funnel reads another table: add it to ``FUNNEL_TABLES`` (the 10 M point loads only those).

Why its own simulation and not the demo's planner (app/demo): the demo plays every case through
the service's own create and transition functions — real events, ≈ 200 cases a second — which
would take hours for 1 M cases; here the rows are generated directly and COPYed (≈ 10 minutes).
What both need to agree on is read from one place or checked against it: the columns come from
``Base.metadata``, and tests/test_bench_loader.py checks that every step a loaded sample took is
one the service's state machine (``TRANSITIONS``) allows.

Case ids are a function of the case's number ``n`` (1…N), time-ordered like the service's own
UUIDv7 ids (``case_id(n)``; ``case_id_sql(":n")`` is the same in SQL for pgbench scripts).
Every case with ``n % TARGET_MOD == TARGET_RESIDUE`` is submitted to ``TARGET_STATE`` with that
submission on hold: the status-update benchmark takes ``decide`` → ``on_hold`` on them again and
again (on_hold → on_hold is legal).

Run alone: ``.venv/bin/python -m bench.load --cases 100000 [--funnel-only] [--database NAME]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app import chain
from app.demo import names as demo_names
from app.models import Base
from app.services.names import member_keys
from app.vocabulary import RequirementItem

ROOT = Path(__file__).resolve().parent.parent
PTA = str(Path(sys.executable).with_name("pta"))
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
#: Every benchmark user signs in with this password (they live only in pta_bench* databases).
PASSWORD = "bench-password-not-secret-0001"  # noqa: S105

START = date(2016, 1, 1)
#: case_id(n): a UUIDv7 whose 48-bit millisecond field is BASE_MS + n (ids sort like n).
BASE_MS = 1_451_606_400_000
UUID_TAIL = "70008000000000000000"
TARGET_MOD = 100
TARGET_RESIDUE = 7
TARGET_STATE = "CAN"
TRANSIT_DAYS = 180
#: the share of first submissions the state asks a question about before deciding
QUESTION_SHARE = 0.12

ORIGINS = ("SLV", "GTM", "HND")
ORIGIN_WEIGHTS = (40, 25, 35)
STATES = ("USA", "CAN", "AUS", "BRA", "URY")
STATE_WEIGHTS = (35, 25, 15, 15, 10)
TRANSIT = ("CRI", "PAN")
TRANSIT_WEIGHTS = (90, 10)
PRIORITIES = ("emergency", "urgent", "normal")
PRIORITY_WEIGHTS = (10, 30, 60)
CATEGORIES = (
    "legal_physical_protection_needs",
    "survivors_violence_torture",
    "medical_needs",
    "women_girls_at_risk",
    "family_reunification",
    "children_adolescents_at_risk",
    "lack_of_alternative_durable_solutions",
)
#: final fate of a case (if it got that far by today) and how often; ≈ 56 % are submitted.
FATES = (
    "identified",
    "assessment",
    "pending_review",
    "closed_early",
    "submitted",
    "in_transit",
    "departed",
    "resettled",
    "closed_late",
)
FATE_WEIGHTS = (4, 6, 4, 30, 20, 7, 2, 18, 9)
MEMBER_COUNTS = (1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 6, 7)  # mean 3.1
#: Names as search and possible duplicates meet them: the demo's given names and surnames
#: (app/demo/names.py), drawn with weights falling with the rank (1/(rank + 3)), so a few are
#: very common — Hernández is ≈ 10 % of surnames, as in El Salvador — and two surnames each.
GIVEN: dict[tuple[bool, bool], tuple[str, ...]] = {  # (born since 1998, female) → names
    (False, True): demo_names.ADULT_FEMALE,
    (False, False): demo_names.ADULT_MALE,
    (True, True): demo_names.YOUNG_FEMALE,
    (True, False): demo_names.YOUNG_MALE,
}
SURNAMES = tuple(
    dict.fromkeys(
        demo_names.COMMON_SURNAMES
        + tuple(name for pool in demo_names.LOCAL_SURNAMES.values() for name in pool)
    )
)
RELATIONSHIPS = ("spouse", "child", "child", "child", "parent", "sibling", "grandchild")
SUMMARIES = (
    "Threats by a gang after refusing recruitment; relocation inside the country failed.",
    "Survivor of violence; the family was followed after moving to another department.",
    "Witness in a criminal case; protection measures ended and threats resumed.",
)


#: The tables the loader fills per case, in load order.
CASE_TABLES = (
    "cases",
    "members",
    "member_keys",
    "submissions",
    "departure_requirements",
    "information_requests",
    "transit_stays",
    "case_events",
)


#: Tables whose ids the simulation gives itself: an event's hash covers its id.
OWN_IDS = frozenset({"case_events"})
#: Event ids are ``n * EVENTS_PER_CASE + k`` for the k-th event of case n: in each case's
#: order, unique across the worker processes that simulate cases side by side.
EVENTS_PER_CASE = 100


def _written_columns(table: str) -> tuple[str, ...]:
    """Every column of the table as the models declare it (``Base.metadata``), in their order,
    but a key the database numbers itself: a column added to a model must be written by the
    simulation (``_Case``) too, or the load fails loudly."""
    columns = Base.metadata.tables[table].columns
    return tuple(
        column.name
        for column in columns
        if table in OWN_IDS
        or not (column.primary_key and column.autoincrement is True and column.name == "id")
    )


#: The columns the loader writes, per table.
COLUMNS: dict[str, tuple[str, ...]] = {table: _written_columns(table) for table in CASE_TABLES}
ALL_TABLES = tuple(COLUMNS)
#: What the funnel reads (the rollup is rebuilt from these): all a funnel-only (10 M) database
#: gets — members and events, the bulk of a full load, are left out.
FUNNEL_TABLES: tuple[str, ...] = ("cases", "submissions", "transit_stays")
#: SQL run after every load (full or funnel-only), before VACUUM ANALYZE: fill derived tables.
POST_LOAD_SQL: list[str] = []


async def _rebuild_funnel_rollup(url: str) -> None:
    """The service's own rebuild of its funnel rollup (app/services/funnel_rollup.py)."""
    try:
        from app.services import funnel_rollup
    except ImportError:
        return
    from app.config import Settings
    from app.db import SqlaDb, make_engine

    # A bulk rebuild takes longer than the service's statement timeout at 10 M cases.
    settings = Settings(database_url=url, statement_timeout_ms=3_600_000)
    engine = make_engine(url, settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            await funnel_rollup.rebuild(SqlaDb(conn))
    finally:
        await engine.dispose()


#: Run after the rows are in (each gets the database URL): the service's own rebuilds of
#: derived tables, so they match what the service would have written.
POST_LOAD_HOOKS: list[Callable[[str], Awaitable[None]]] = [_rebuild_funnel_rollup]

#: (username, role, country): who the loaded cases are written by, and who benchmarks sign in.
USERS: tuple[tuple[str, str, str | None], ...] = (
    ("bench_caseworker", "caseworker", None),
    ("bench_supervisor", "supervisor", None),
    ("bench_manager", "manager", None),
    ("bench_admin", "admin", None),
    *((f"bench_ro_{c.lower()}", "resettlement_officer", c) for c in STATES),
    *((f"bench_to_{c.lower()}", "transit_officer", c) for c in TRANSIT),
)
FUNNEL_USERS = ("bench_caseworker", "bench_manager")


def case_id(n: int) -> str:
    h = f"{BASE_MS + n:012x}{UUID_TAIL}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def member_id(n: int, position: int) -> str:
    """A member's id, unique across the load: the case's number and the member's position."""
    h = f"{BASE_MS + n:012x}{position:04x}{UUID_TAIL[4:]}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def case_number(case_uuid: str) -> int:
    return int(case_uuid.replace("-", "")[:12], 16) - BASE_MS


def case_id_sql(variable: str) -> str:
    """case_id(n) in SQL, for pgbench scripts (``variable`` is e.g. ``:n``)."""
    return f"(lpad(to_hex({variable}::bigint + {BASE_MS}), 12, '0') || '{UUID_TAIL}')::uuid"


def is_target(n: int) -> bool:
    return n % TARGET_MOD == TARGET_RESIDUE


def target_count(cases: int) -> int:
    return len(range(TARGET_RESIDUE, cases + 1, TARGET_MOD))


# --- simulation ------------------------------------------------------------------------------

NULL = "\\N"


@dataclass
class _Plan:
    """What a worker process needs to simulate one chunk of cases."""

    first: int
    last: int
    cases: int
    seed: int
    today: date
    users: dict[str, str]
    tables: tuple[str, ...]


class _Dates:
    def __init__(self, today: date) -> None:
        self.days = (today - START).days
        self.iso = [(START + timedelta(days=d)).isoformat() for d in range(self.days + 1)]
        self.times = [
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(0, 86400, 7)
        ]

    def ts(self, day: int, rng: random.Random) -> str:
        return f"{self.iso[day]} {rng.choice(self.times)}+00"


@dataclass
class _Sub:
    id: str
    sequence: int
    country: str
    priority: str
    primary: str
    secondary: str
    submitted_at: str
    status: str = "pending"
    decided_at: str = NULL
    decided_by: str = NULL
    reason: str = NULL
    withdrawn_at: str = NULL
    withdrawal_reason: str = NULL
    #: an accepted submission's checklist: the day it started, and the day the case departed
    accepted_day: int | None = None
    departed_day: int | None = None
    #: the state's questions: (asked_at, asked_by, question, answered_at, answer; NULL
    #: while unanswered)
    questions: list[tuple[str, str, str, str, str]] = field(default_factory=list)


@dataclass
class _Stay:
    id: str
    country: str
    requested_at: str
    status: str = "requested"
    authorised_at: str = NULL
    note: str = NULL
    refused_at: str = NULL
    refusal: str = NULL
    entered_at: str = NULL
    until: str = NULL
    exited_at: str = NULL
    exit_reason: str = NULL


@dataclass
class _Case:
    """One case walked through the lifecycle; each write appends an event (version = events)."""

    n: int
    rng: random.Random
    dates: _Dates
    users: dict[str, str]
    day: int
    status: str = "identified"
    events: list[str] = field(default_factory=list)
    subs: list[_Sub] = field(default_factory=list)
    stays: list[_Stay] = field(default_factory=list)
    last_ts: str = ""
    #: the hash of the case's latest event (app/chain.py)
    head: str = chain.ZERO_HASH
    drafted_by: str = NULL
    first_submitted: str = NULL
    entered: str = NULL
    departed: str = NULL
    resettled: str = NULL
    closed_at: str = NULL
    closure_reason: str = NULL
    before_close: str = NULL

    def advance(self, low: int, high: int, clamp: bool = False) -> bool:
        """Move the clock on; False (and no move) when that would pass today."""
        day = self.day + self.rng.randint(low, high)
        if day > self.dates.days:
            if not clamp:
                return False
            day = self.dates.days
        self.day = day
        return True

    def event(
        self,
        action: str,
        to: str,
        user: str,
        role: str,
        payload: str = "{}",
        rc: str = NULL,
        tc: str = NULL,
    ) -> str:
        at = self.dates.ts(self.day, self.rng)
        if at < self.last_ts:  # same day, earlier time drawn: keep events in order
            at = self.last_ts
        self.last_ts = at
        before = NULL if action == "create" else self.status
        event_id = self.n * EVENTS_PER_CASE + len(self.events)
        if len(self.events) >= EVENTS_PER_CASE:
            raise RuntimeError("more events than EVENTS_PER_CASE")
        self.head = chain.event_hash(
            self.head,
            event_id,
            chain.event_content(
                case_id=uuid.UUID(case_id(self.n)),
                at=datetime.fromisoformat(at),
                action=action,
                from_status=None if before == NULL else before,
                to_status=to,
                user_id=uuid.UUID(user),
                role=role,
                digest=chain.payload_digest(json.loads(payload)),
            ),
        )
        self.events.append(
            f"{event_id}\t{case_id(self.n)}\t{at}\t{action}\t{before}\t{to}\t{user}\t{role}\t"
            f"{rc}\t{tc}\t{payload}\t{self.head}\t{NULL}\n"
        )
        self.status = to
        return at


def _weighted(rng: random.Random, values: Sequence[str], cum: Sequence[int]) -> str:
    return rng.choices(values, cum_weights=cum)[0]


def _cum(weights: Sequence[int]) -> list[int]:
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out


ORIGIN_CUM, STATE_CUM = _cum(ORIGIN_WEIGHTS), _cum(STATE_WEIGHTS)
TRANSIT_CUM, PRIORITY_CUM, FATE_CUM = (
    _cum(TRANSIT_WEIGHTS),
    _cum(PRIORITY_WEIGHTS),
    _cum(FATE_WEIGHTS),
)
RANK = {f: i for i, f in enumerate(FATES)}


def _rank_cum(pool: Sequence[str]) -> list[float]:
    total, out = 0.0, []
    for rank in range(len(pool)):
        total += 1 / (rank + 3)
        out.append(total)
    return out


GIVEN_CUM = {key: _rank_cum(pool) for key, pool in GIVEN.items()}
SURNAME_CUM = _rank_cum(SURNAMES)


def _surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, cum_weights=SURNAME_CUM)[0]


def _given(rng: random.Random, born: date, female: bool) -> str:
    key = (born.year >= 1998, female)
    return rng.choices(GIVEN[key], cum_weights=GIVEN_CUM[key])[0]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _identified_day(n: int, cases: int, days: int) -> int:
    """Cases grow over time (density ∝ t): day = days · √(n / N); ids follow this order."""
    return min(days, int(days * ((n - 0.5) / cases) ** 0.5))


def _simulate(
    c: _Case, fate: str, pathway: str, reference: str, members: int, target: bool
) -> None:
    rng, u = c.rng, c.users
    cw, sv = u["bench_caseworker"], u["bench_supervisor"]
    clamp = target
    c.event(
        "create",
        "identified",
        cw,
        "caseworker",
        f'{{"reference": "{reference}", "origin_country": "{reference[4:7]}", '
        f'"pathway": "{pathway}", "member_count": {members}}}',
    )
    if fate == "identified" or not c.advance(2, 30, clamp):
        return
    c.event("start_assessment", "assessment", cw, "caseworker")
    for _ in range(rng.randint(0, 2)):  # edits while the RRF is prepared
        c.event("update", "assessment", cw, "caseworker", '{"changed": ["protection_summary"]}')
    if fate == "assessment":
        return
    if fate == "closed_early" and rng.random() < 0.5:
        if c.advance(10, 120):
            _close(c, rng.choice(("not_recommended", "lost_contact", "no_longer_at_risk")))
        return
    if not c.advance(3, 60, clamp):
        return
    c.event("request_review", "pending_review", cw, "caseworker")
    c.drafted_by = cw
    if rng.random() < 0.15 and c.advance(1, 20):
        c.event(
            "return_to_assessment",
            "assessment",
            sv,
            "supervisor",
            '{"reason": "Complete the household composition."}',
        )
        if not c.advance(1, 30, clamp):
            return
        c.event("request_review", "pending_review", cw, "caseworker")
    if fate == "pending_review":
        return
    if fate == "closed_early":
        if c.advance(5, 90):
            _close(c, rng.choice(("not_recommended", "withdrawn_by_applicant", "onward_movement")))
        return
    if not c.advance(5, 90, clamp):
        return
    first_state = TARGET_STATE if target else _weighted(rng, STATES, STATE_CUM)
    _submit(c, "submit", first_state)
    c.first_submitted = c.dates.iso[c.day]
    for _ in range(rng.randint(0, 2)):  # priority changes, household updates
        c.event("update", c.status, cw, "caseworker", '{"changed": ["processing_priority"]}')
    if not target and rng.random() < QUESTION_SHARE and c.advance(10, 60):  # the state asks
        _decide(c, "information_requested", QUESTION)
        if not c.advance(3, 30):
            return
        _answer(c)
    if not target and rng.random() < 0.15 and c.advance(30, 200):  # denied, resubmitted
        _decide(c, "denied", "Does not meet the admission criteria.")
        if not c.advance(5, 60):
            return
        second = _weighted(rng, STATES, STATE_CUM)
        while second == first_state:
            second = _weighted(rng, STATES, STATE_CUM)
        _submit(c, "resubmit", second)
    if target:
        if c.advance(10, 120, clamp=True):
            _decide(c, "on_hold", "Awaiting security clearance.")
        return
    if fate == "closed_late":
        if c.advance(30, 200):
            if rng.random() < 0.6:
                _decide(c, "denied", "Does not meet the admission criteria.")
                if c.advance(5, 60):
                    _close(c, "denied_no_resubmission")
            else:
                _close(c, "lost_contact")
        return
    rank = RANK[fate]
    if fate == "submitted":
        outcome = rng.choices(("pending", "on_hold", "accepted", "denied"), (45, 15, 30, 10))[0]
    elif fate == "in_transit":
        outcome = rng.choices(("pending", "on_hold", "accepted"), (35, 15, 50))[0]
    else:
        outcome = "accepted"
    if outcome == "on_hold" and c.advance(10, 90):
        _decide(c, "on_hold", "Awaiting security clearance.")
    # transit: requested soon after submission, while the state decides
    goes_transit = pathway == "transit" and (rank >= RANK["in_transit"] or rng.random() < 0.3)
    if goes_transit and c.advance(3, 40):
        _transit(c, fate, outcome)
    if outcome in ("accepted", "denied") and c.advance(20, 150):
        _decide(c, outcome, NULL if outcome == "accepted" else "Does not meet the criteria.")
    if rank < RANK["departed"] or outcome != "accepted":
        return
    if pathway == "transit" and c.status != "in_transit":
        return  # the stay never started (refused or still pending): cannot depart yet
    if not c.advance(30, 240):
        return
    day = c.dates.iso[c.day]
    c.event(
        "record_departure",
        "departed",
        c.users["bench_caseworker"],
        "caseworker",
        f'{{"departed_at": "{day}"}}',
    )
    c.departed = day
    c.subs[-1].departed_day = c.day
    if c.stays and c.stays[-1].status == "in_transit":
        stay = c.stays[-1]
        stay.status, stay.exited_at, stay.exit_reason = "exited", day, "departed_to_resettlement"
    if fate == "resettled" and c.advance(1, 3):
        day = c.dates.iso[c.day]
        state = c.subs[-1].country
        c.event(
            "confirm_arrival",
            "resettled",
            c.users[f"bench_ro_{state.lower()}"],
            "resettlement_officer",
            f'{{"arrived_at": "{day}"}}',
            rc=state,
        )
        c.resettled = day


def _submit(c: _Case, action: str, state: str) -> None:
    rng = c.rng
    priority = _weighted(rng, PRIORITIES, PRIORITY_CUM)
    primary, secondary = rng.sample(CATEGORIES, 2)
    at = c.event(
        action,
        "submitted",
        c.users["bench_supervisor"],
        "supervisor",
        f'{{"resettlement_country": "{state}", "submission_priority": "{priority}", '
        f'"primary_category": "{primary}", "secondary_category": "{secondary}"}}',
        rc=state,
    )
    c.subs.append(_Sub(_uuid(rng), len(c.subs) + 1, state, priority, primary, secondary, at))


def _decide(c: _Case, decision: str, reason: str) -> None:
    sub = c.subs[-1]
    officer = c.users[f"bench_ro_{sub.country.lower()}"]
    payload = (
        f'{{"decision": "{decision}"}}'
        if reason == NULL
        else f'{{"decision": "{decision}", "reason": "{reason}"}}'
    )
    at = c.event("decide", c.status, officer, "resettlement_officer", payload, rc=sub.country)
    sub.status, sub.decided_at, sub.decided_by, sub.reason = decision, at, officer, reason
    if decision == "accepted":
        sub.accepted_day = c.day
    if decision == "information_requested":
        sub.questions.append((at, officer, reason, NULL, NULL))


QUESTION = "Please confirm the date of birth of the youngest child."
ANSWER = "Confirmed from the birth certificate."


def _answer(c: _Case) -> None:
    """UNHCR's answer (``provide_information``): the submission is pending again."""
    sub = c.subs[-1]
    payload = f'{{"answer": "{ANSWER}"}}'
    at = c.event(
        "provide_information",
        c.status,
        c.users["bench_caseworker"],
        "caseworker",
        payload,
        rc=sub.country,
    )
    asked_at, asker, question, _, _ = sub.questions[-1]
    sub.questions[-1] = (asked_at, asker, question, at, ANSWER)
    sub.status = "pending"


def _transit(c: _Case, fate: str, outcome: str) -> None:
    rng, u = c.rng, c.users
    country = _weighted(rng, TRANSIT, TRANSIT_CUM)
    officer = u[f"bench_to_{country.lower()}"]
    at = c.event(
        "request_transit",
        c.status,
        u["bench_caseworker"],
        "caseworker",
        f'{{"transit_country": "{country}"}}',
        tc=country,
    )
    stay = _Stay(_uuid(rng), country, at)
    c.stays.append(stay)
    if not c.advance(2, 20):
        return
    if RANK[fate] < RANK["in_transit"] and rng.random() < 0.1:
        at = c.event(
            "refuse_transit",
            c.status,
            officer,
            "transit_officer",
            '{"reason": "Capacity reached."}',
            tc=country,
        )
        stay.status, stay.refused_at, stay.refusal = "refused", at, "Capacity reached."
        return
    at = c.event("authorise_transit", c.status, officer, "transit_officer", "{}", tc=country)
    stay.status, stay.authorised_at = "authorised", at
    if RANK[fate] < RANK["in_transit"] or not c.advance(5, 40):
        return
    day = c.dates.iso[c.day]
    until = (START + timedelta(days=c.day + TRANSIT_DAYS)).isoformat()
    c.event(
        "record_transit_entry",
        "in_transit",
        officer,
        "transit_officer",
        f'{{"entered_at": "{day}", "authorised_until": "{until}"}}',
        tc=country,
    )
    stay.status, stay.entered_at, stay.until = "in_transit", day, until
    c.entered = day
    if outcome != "accepted" and c.rng.random() < 0.3 and c.advance(100, 170):
        until = (START + timedelta(days=c.day + 120)).isoformat()
        c.event(
            "extend_transit",
            "in_transit",
            officer,
            "transit_officer",
            f'{{"authorised_until": "{until}"}}',
            tc=country,
        )
        stay.until = until


def _close(c: _Case, reason: str) -> None:
    before = c.status
    supervisor = c.users["bench_supervisor"]
    at = c.event("close", "closed", supervisor, "supervisor", f'{{"reason": "{reason}"}}')
    c.before_close, c.closed_at, c.closure_reason = before, at, reason
    if c.subs and c.subs[-1].status in ("pending", "on_hold", "accepted"):
        c.subs[-1].status, c.subs[-1].withdrawn_at = "withdrawn", at
    if c.stays and c.stays[-1].status in ("requested", "authorised", "in_transit"):
        stay = c.stays[-1]
        stay.status, stay.exited_at, stay.exit_reason = "exited", at[:10], "case_closed"


def _members(
    out: dict[str, list[str]],
    rng: random.Random,
    c: _Case,
    n: int,
    members: int,
    origin: str,
    identified: str,
    keys: bool,
) -> None:
    """A household: the principal's first surname passed on to the children, a document
    number (unique: made of the case's number) for most, and every member's keys."""
    cid = case_id(n)
    paternal = _surname(rng)
    for position in range(1, members + 1):
        principal = position == 1
        age = rng.randint(18, 60) if principal else rng.randint(0, 70)
        born = date(2026, 1, 1) - timedelta(days=age * 365 + rng.randint(0, 364))
        female = rng.random() < 0.5
        given = _given(rng, born, female)
        first = paternal if principal or rng.random() < 0.6 else _surname(rng)
        family = f"{first} {_surname(rng)}"
        document = f"{origin[0]}{n:08d}{position:02d}" if rng.random() < 0.7 else None
        mid = member_id(n, position)
        out["members"].append(
            f"{cid}\t{position}\t{'t' if principal else 'f'}\t{given}\t"
            f"{family}\t{'female' if female else 'male'}\t{born.isoformat()}\t"
            f"{'t' if rng.random() < 0.1 else 'f'}\t{origin}\t"
            f"{'principal' if principal else rng.choice(RELATIONSHIPS)}\t"
            f"{document or NULL}\t"
            # every member was there from the start: the case's milestones are its own
            f"{mid}\t{identified}\t{c.first_submitted}\t{c.entered}\t{c.resettled}\n"
        )
        if keys:
            k = member_keys(given, family, born, document)
            out["member_keys"].append(
                f"{cid}\t{mid}\t{k.words}\t{k.document or NULL}\t{k.name_head}\t"
                f"{k.name_ends}\t{k.name_tail}\t{k.names}\n"
            )


def _checklist(out: list[str], rng: random.Random, c: _Case, sub: _Sub) -> None:
    """The departure requirements an accepted submission started (every item the service
    tracks by default, in order): all done before a departure; else each pending or done,
    and half of the pending ones due on a date — some already past, so that UNHCR's overdue
    list has cases to find. (Their ``update_requirement`` events are not simulated.)"""
    if sub.accepted_day is None:
        return
    start, cid, cw = sub.accepted_day, case_id(c.n), c.users["bench_caseworker"]
    for position, item in enumerate(RequirementItem, start=1):
        due, done = NULL, NULL
        if sub.departed_day is not None:
            status, finished = "done", rng.randint(start, sub.departed_day)
        elif rng.random() < 0.4:
            status, finished = "done", rng.randint(start, c.dates.days)
        else:
            status, finished = "pending", None
            if rng.random() < 0.5:
                due = (START + timedelta(days=start + rng.randint(10, 120))).isoformat()
        if finished is not None:
            done = c.dates.iso[finished]
        updated = NULL if finished is None else c.dates.ts(finished, rng)
        by = NULL if finished is None else cw
        out.append(
            # no note, so no note_role
            f"{sub.id}\t{item}\t{cid}\t{position}\t{status}\t{due}\t{done}\t{NULL}\t"
            f"{NULL}\t{updated}\t{by}\n"
        )


def generate(plan: _Plan) -> tuple[dict[str, bytes], dict[tuple[str, int], int]]:
    """The rows of cases first…last, per table, in COPY text format, and the highest
    reference number per (origin, year)."""
    rng = random.Random(plan.seed * 1_000_003 + plan.first)
    dates = _Dates(plan.today)
    wanted = set(plan.tables)
    out: dict[str, list[str]] = {t: [] for t in ALL_TABLES}
    cw = plan.users["bench_caseworker"]
    max_ref: dict[tuple[str, int], int] = {}
    for n in range(plan.first, plan.last + 1):
        target = is_target(n)
        origin = _weighted(rng, ORIGINS, ORIGIN_CUM)
        fate = "submitted" if target else _weighted(rng, FATES, FATE_CUM)
        pathway = "transit" if fate == "in_transit" or rng.random() < 0.45 else "in_country"
        members = rng.choice(MEMBER_COUNTS)
        day0 = _identified_day(n, plan.cases, dates.days)
        identified = dates.iso[day0]
        year = int(identified[:4])
        # Unique and never reused: the service numbers new cases from reference_counters on.
        reference = f"PTA-{origin}-{year}-{n:06d}"
        if max_ref.get((origin, year), 0) < n:
            max_ref[(origin, year)] = n
        c = _Case(n, rng, dates, plan.users, day0)
        _simulate(c, fate, pathway, reference, members, target)
        cid = case_id(n)
        created = c.events[0].split("\t", 3)[2]
        summary = rng.choice(SUMMARIES) if rng.random() < 0.8 else NULL
        out["cases"].append(
            f"{cid}\t{reference}\t{origin}\t{pathway}\t{c.status}\t{c.before_close}\t"
            f"{_weighted(rng, PRIORITIES, PRIORITY_CUM)}\tCommunity outreach\t{summary}\t"
            f"{members}\t{identified}\t{c.first_submitted}\t{c.entered}\t{c.departed}\t"
            f"{c.resettled}\t{c.closed_at}\t{c.closure_reason}\t{cw}\t{c.drafted_by}\t"
            f"{created}\t{c.last_ts}\t{len(c.events)}\t{NULL}\t{NULL}\tf\t{NULL}\n"
        )
        if "members" in wanted:
            _members(out, rng, c, n, members, origin, identified, "member_keys" in wanted)
        if "submissions" in wanted:
            # a whole household accepted: every member, by id (no split in the bench data)
            accepted = json.dumps([member_id(n, p) for p in range(1, members + 1)])
            for s in c.subs:
                out["submissions"].append(
                    f"{s.id}\t{cid}\t{s.sequence}\t{s.country}\t{s.priority}\t{s.primary}\t"
                    f"{s.secondary}\t{s.status}\t{s.submitted_at}\t{plan.users['bench_supervisor']}\t"
                    f"{s.decided_at}\t{s.decided_by}\t{s.reason}\t{s.withdrawn_at}\t"
                    f"{s.withdrawal_reason}\t{accepted if s.status == 'accepted' else NULL}\tf\n"
                )
        if "departure_requirements" in wanted:
            for s in c.subs:
                _checklist(out["departure_requirements"], rng, c, s)
        if "information_requests" in wanted:
            for s in c.subs:
                for asked_at, asker, question, answered_at, answer in s.questions:
                    by = NULL if answered_at == NULL else cw
                    out["information_requests"].append(
                        f"{cid}\t{s.id}\t{asked_at}\t{asker}\t{question}\t{answered_at}\t"
                        f"{by}\t{answer}\n"
                    )
        if "transit_stays" in wanted:
            for st in c.stays:
                out["transit_stays"].append(
                    f"{st.id}\t{cid}\t{st.country}\t{st.status}\t{st.requested_at}\t{cw}\t"
                    f"{st.authorised_at}\t{st.note}\t{st.refused_at}\t{st.refusal}\t"
                    f"{st.entered_at}\t{st.until}\t{st.exited_at}\t{st.exit_reason}\n"
                )
        if "case_events" in wanted:
            out["case_events"].extend(c.events)
    return {t: "".join(out[t]).encode() for t in plan.tables}, max_ref


# --- database --------------------------------------------------------------------------------


def server_url(url: str) -> str:
    """The same server's maintenance database (to create and drop databases)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def database_url(name: str, server: str = DEFAULT_SERVER) -> str:
    return f"{server.rstrip('/')}/{name}"


async def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("pta_bench"):
        raise SystemExit(f"refusing to drop {name!r}: benchmark databases are named pta_bench*")
    conn = await asyncpg.connect(server_url(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def pta(url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run the service's own command line against this database; its stdout."""
    environment = {**os.environ, "PTA_DATABASE_URL": url, **(env or {})}
    done = subprocess.run(
        [PTA, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pta {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def create_users(url: str, names: Iterable[str] | None = None) -> dict[str, str]:
    """One user per role (officers per country) through ``pta users create``: username → id."""
    wanted = [u for u in USERS if names is None or u[0] in set(names)]

    def create(user: tuple[str, str, str | None]) -> tuple[str, str]:
        username, role, country = user
        args = ["users", "create", username, "--role", role, "--password-stdin"]
        if country:
            args += ["--country", country]
        out = pta(url, *args, stdin=PASSWORD + "\n")
        return username, out.strip().splitlines()[-1].strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(create, wanted))


async def _catalog(conn: asyncpg.Connection, tables: Sequence[str]) -> dict[str, list[Any]]:
    """The constraints and indexes to drop before a bulk load and rebuild after it."""
    oids = [await conn.fetchval("SELECT $1::regclass::oid", t) for t in tables]
    constraints = await conn.fetch(
        """
        SELECT conrelid::regclass::text AS tbl, quote_ident(conname) AS name, contype::text,
               pg_get_constraintdef(oid) AS def
        FROM pg_constraint
        WHERE contype IN ('p', 'u', 'f', 'x')
          AND (conrelid = ANY($1::oid[]) OR (contype = 'f' AND confrelid = ANY($1::oid[])))
        ORDER BY contype, conname
        """,
        oids,
    )
    indexes = await conn.fetch(
        """
        SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
        FROM pg_index
        WHERE indrelid = ANY($1::oid[])
          AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0)
        ORDER BY 1
        """,
        oids,
    )
    return {"constraints": list(constraints), "indexes": list(indexes)}


@dataclass
class LoadReport:
    cases: int
    rows: dict[str, int]
    seconds: float
    tables: tuple[str, ...]


async def load_rows(
    url: str,
    cases: int,
    users: dict[str, str],
    *,
    tables: Sequence[str] = ALL_TABLES,
    seed: int = 1,
    chunk: int = 20_000,
    workers: int | None = None,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """COPY N simulated cases into an empty, migrated database (one transaction)."""
    started = time.perf_counter()
    log = progress or (lambda _m: None)

    def say(message: str) -> None:
        log(f"{message} ({time.perf_counter() - started:.1f} s)")

    today = today or datetime.now(UTC).date() - timedelta(days=1)
    tables = tuple(t for t in ALL_TABLES if t in tables)
    plans = [
        _Plan(first, min(first + chunk - 1, cases), cases, seed, today, users, tables)
        for first in range(1, cases + 1, chunk)
    ]
    rows = dict.fromkeys(tables, 0)
    max_ref: dict[tuple[str, int], int] = {}
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "SET synchronous_commit = off; SET maintenance_work_mem = '1GB'; "
            "SET max_parallel_maintenance_workers = 2"
        )
        async with conn.transaction():
            catalog = await _catalog(conn, tables)
            for c in sorted(catalog["constraints"], key=lambda c: c["contype"] != "f"):
                await conn.execute(f"ALTER TABLE {c['tbl']} DROP CONSTRAINT {c['name']}")
            for index in catalog["indexes"]:
                await conn.execute(f"DROP INDEX {index['name']}")
            # TRUNCATE in this transaction lets COPY FREEZE write frozen, all-visible pages.
            await conn.execute(f"TRUNCATE {', '.join(tables)}")
            context = multiprocessing.get_context("fork")
            with context.Pool(workers or os.cpu_count() or 2) as pool:
                pending: deque[Any] = deque()
                queue = iter(plans)
                done = 0
                for plan in queue:
                    pending.append(pool.apply_async(generate, (plan,)))
                    if len(pending) >= 4:
                        break
                while pending:
                    result, refs = await asyncio.get_running_loop().run_in_executor(
                        None, pending.popleft().get
                    )
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.append(pool.apply_async(generate, (nxt,)))
                    for key, value in refs.items():
                        max_ref[key] = max(max_ref.get(key, 0), value)
                    for table, data in result.items():
                        rows[table] += data.count(b"\n")
                        await conn.copy_to_table(
                            table,
                            source=io.BytesIO(data),
                            columns=COLUMNS[table],
                            format="text",
                            freeze=True,
                        )
                    done += 1
                    if done % 10 == 0 or done == len(plans):
                        say(f"  loaded {min(done * chunk, cases):,} / {cases:,} cases")
            say("  rebuilding indexes and constraints")
            for c in sorted(catalog["constraints"], key=lambda c: c["contype"] == "f"):
                await conn.execute(f"ALTER TABLE {c['tbl']} ADD CONSTRAINT {c['name']} {c['def']}")
            for index in catalog["indexes"]:
                await conn.execute(index["def"])
            await conn.executemany(
                """
                INSERT INTO reference_counters (origin_country, year, last_number)
                VALUES ($1, $2, $3)
                ON CONFLICT (origin_country, year)
                DO UPDATE SET last_number = GREATEST(reference_counters.last_number, $3)
                """,
                [(origin, year, number) for (origin, year), number in sorted(max_ref.items())],
            )
            if "case_events" in tables:
                await conn.execute(
                    "SELECT setval(pg_get_serial_sequence('case_events', 'id'), "
                    "(SELECT coalesce(max(id), 0) + 1 FROM case_events), false)"
                )
            for statement in POST_LOAD_SQL:
                await conn.execute(statement)
        for hook in POST_LOAD_HOOKS:
            say(f"  {hook.__name__.strip('_').replace('_', ' ')}")
            await hook(url)
        if "submissions" in tables:
            await _check_targets(conn, cases)
        say("  VACUUM ANALYZE")
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return LoadReport(cases, rows, time.perf_counter() - started, tables)


async def _check_targets(conn: asyncpg.Connection, cases: int) -> None:
    """Every status-update target is submitted to TARGET_STATE and that submission on hold."""
    ids = [case_id(n) for n in range(TARGET_RESIDUE, cases + 1, TARGET_MOD)]
    ready = await conn.fetchval(
        """
        SELECT count(*) FROM cases c
        JOIN LATERAL (SELECT resettlement_country, status FROM submissions s
                      WHERE s.case_id = c.id ORDER BY sequence DESC LIMIT 1) s ON true
        WHERE c.id = ANY($1::uuid[]) AND c.status = 'submitted'
          AND s.resettlement_country = $2 AND s.status = 'on_hold'
        """,
        ids,
        TARGET_STATE,
    )
    if ready != len(ids):
        raise RuntimeError(f"only {ready} of {len(ids)} status-update targets are on hold")


async def prepare_database(
    url: str,
    cases: int,
    *,
    funnel_only: bool = False,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, str], LoadReport]:
    """A fresh database at the newest schema with its users and N cases."""
    say = progress or (lambda _m: None)
    await recreate_database(url)
    say("  pta db upgrade")
    pta(url, "db", "upgrade")
    say("  pta users create (one per role)")
    users = create_users(url, FUNNEL_USERS if funnel_only else None)
    for name in {u[0] for u in USERS} - set(users):  # the simulation names them: reuse one
        users[name] = users["bench_caseworker"]
    tables = FUNNEL_TABLES if funnel_only else ALL_TABLES
    report = await load_rows(url, cases, users, tables=tables, seed=seed, progress=say)
    return users, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database", default="pta_bench_load")
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", DEFAULT_SERVER))
    parser.add_argument("--funnel-only", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    url = database_url(args.database, args.server)
    _users, report = asyncio.run(
        prepare_database(
            url, args.cases, funnel_only=args.funnel_only, seed=args.seed, progress=print
        )
    )
    print(
        f"{report.cases:,} cases in {report.seconds:.1f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in report.rows.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
