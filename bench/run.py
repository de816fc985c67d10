"""``make bench``: the service against PostgreSQL's own ceiling for the same SQL.

1. Load: a fresh database ``pta_bench`` (N cases, default 1 M; ``bench/load.py``), and for the
   funnel points that differ from N a funnel-only database ``pta_bench_f<size>``.
2. Capture: the service runs against ``pta_bench`` with statement logging on for that database;
   one request per operation; the logged statements become pgbench scripts
   (``bench/capture.py``; written to ``bench/out/pgbench/``). So the pgbench side always runs
   the SQL the service issues today.
3. Measure: per operation, pgbench (``-M prepared -j 2``) and the service under wrk, at the
   same concurrencies; then RSS per worker and the demo-load time.
4. Report: one table with the targets and PASS/MISS, printed and written to ``bench/out/``
   (``last-run.txt``, ``last-run.md``, ``last-run.json``).

``--quick`` (100 k cases, 5 s runs, funnel at 100 k only) finishes in a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg

from bench import baseline, capture, explain, jobs, load, measure, report
from bench.capture import Script, Statement
from bench.load import (
    PASSWORD,
    TARGET_MOD,
    TARGET_RESIDUE,
    case_id,
    case_id_sql,
    target_count,
)
from bench.measure import Result
from bench.receiver import Receiver
from bench.report import Extra, Row
from bench.service import Service

OUT = Path(__file__).resolve().parent / "out"
#: The cohort funnel's year (the last whole one: the loaded cases grow over time, so it holds
#: the most) and its past ``as_of``.
COHORT_YEAR = 2025
COHORT_PAST_AS_OF = "2026-03-31"
MAIN_DB = "pta_bench"
DISTINCT_VERSION = 900_000  # the captured case's version: a value no other parameter has


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


@dataclass
class Op:
    key: str
    label: str
    user: str
    lua: str
    conns: tuple[int, ...]
    write: bool = False
    #: the operation whose request (and so whose SQL) this one repeats, in other conditions
    base: str | None = None
    #: a search: its kind (a key of bench/explain.py ``SEARCHES``), and whether the page
    #: starts after a cursor (a random case, as the list page's)
    search: str | None = None
    paged: bool = False
    #: ``--ops`` takes a group's name for all its operations
    group: str | None = None
    #: pgbench's runs write webhook messages: the service is paused while pgbench runs (so
    #: that it does not deliver them on the cores pgbench is measured on) and they are
    #: removed before the service is measured (it delivers only the messages of its own run)
    outbox: bool = False
    #: a funnel report: its query (measured at every funnel size, on the funnel-only
    #: databases too)
    report: dict[str, str] | None = None

    @property
    def kind(self) -> str:
        return self.base or self.key


def _search_op(kind: str, paged: bool) -> Op:
    return Op(
        f"search_{kind.split()[0]}{'_next' if paged else ''}",
        f"search: {kind}, {'after a cursor' if paged else 'first page'} (caseworker)",
        "bench_caseworker",
        "list_page.lua" if paged else "fixed.lua",
        (1,),
        search=kind,
        paged=paged,
        group="search",
    )


OPS: dict[str, Op] = {
    op.key: op
    for op in (
        Op(
            "case_by_id",
            "one case by id (caseworker)",
            "bench_caseworker",
            "case_by_id.lua",
            (8, 32),
        ),
        Op("list_page", "list page of 50 (officer CAN)", "bench_ro_can", "list_page.lua", (8, 32)),
        Op(
            "status_update",
            "status update: decide on_hold",
            "bench_ro_can",
            "status_update.lua",
            (8, 32),
            write=True,
        ),
        Op(
            "status_update_webhook",
            "status update, one webhook endpoint subscribed",
            "bench_ro_can",
            "status_update.lua",
            (8, 32),
            write=True,
            base="status_update",
            outbox=True,
        ),
        Op(
            "funnel",
            "funnel, whole programme (manager)",
            "bench_manager",
            "fixed.lua",
            (1, 8),
            report={},
            group="reports",
        ),
        *(
            Op(
                f"cohort_{when}",
                f"cohort funnel, {COHORT_YEAR}, one origin, as_of {when} (manager)",
                "bench_manager",
                "fixed.lua",
                (1, 8),
                report={
                    "basis": "cohort",
                    "from": f"{COHORT_YEAR}-01-01",
                    "to": f"{COHORT_YEAR}-12-31",
                    "origin_country": "HND",
                    **({"as_of": COHORT_PAST_AS_OF} if when == "past" else {}),
                },
                group="reports",
            )
            for when in ("today", "past")
        ),
        Op("sign_in", "sign-in (argon2 verify)", "bench_caseworker", "fixed.lua", (8,)),
        *(_search_op(kind, paged) for kind in explain.SEARCHES for paged in (False, True)),
        Op(
            "possible_duplicates",
            "possible duplicates of a case (caseworker)",
            "bench_caseworker",
            "case_by_id.lua",
            (1,),
        ),
    )
}
#: The long jobs, timed from the command line after the operations (bench/jobs.py); --ops
#: names them like operations.
JOBS = ("audit_verify", "retention_apply")
GROUPS: dict[str, list[str]] = {}
for _op in OPS.values():
    if _op.group is not None:
        GROUPS.setdefault(_op.group, []).append(_op.key)


@dataclass
class Config:
    cases: int
    seconds: int
    warmup: int
    funnel_sizes: list[int]
    ops: list[str]
    workers: int
    port: int
    server: str
    reuse: bool
    quick: bool
    database: str = "pta_bench"
    #: commits whose status update is measured beside ours (bench/baseline.py)
    baselines: list[str] = field(default_factory=list)


@dataclass
class Database:
    name: str
    url: str
    cases: int
    users: dict[str, str]
    load_seconds: float | None = None
    #: what the search operations look for: bench/explain.py ``search_terms``
    searches: dict[str, str] = field(default_factory=dict)


@dataclass
class Captured:
    op: Op
    statements: list[Statement]
    script: Script
    path: Path
    stable: bool = True


@dataclass
class Bench:
    config: Config
    main: Database | None = None
    captured: dict[str, Captured] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    extra: Extra = field(default_factory=Extra)


# --- databases ---------------------------------------------------------------------------------


async def existing(url: str, cases: int) -> dict[str, str] | None:
    """The users of a loaded database with exactly ``cases`` cases, at the newest schema."""
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        count = await conn.fetchval("SELECT count(*) FROM cases")
        users = await conn.fetch("SELECT username, id::text FROM users")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    if count != cases:
        return None
    try:
        load.pta(url, "db", "upgrade")
    except RuntimeError:
        return None
    return {row["username"]: row["id"] for row in users}


async def database(config: Config, name: str, cases: int, *, funnel_only: bool) -> Database:
    url = load.database_url(name, config.server)
    if config.reuse:
        users = await existing(url, cases)
        if users is not None:
            say(f"reusing {name} ({cases:,} cases)")
            return Database(name, url, cases, users)
    say(f"loading {name}: {cases:,} cases{' (funnel tables only)' if funnel_only else ''}")
    users, loaded = await load.prepare_database(
        url, cases, funnel_only=funnel_only, progress=lambda m: say(m.strip())
    )
    say(
        f"{name}: {cases:,} cases loaded in {loaded.seconds:.0f} s ("
        + ", ".join(f"{t} {n:,}" for t, n in loaded.rows.items())
        + ")"
    )
    await warn_empty_tables(url, funnel_only)
    return Database(name, url, cases, users, loaded.seconds)


EMPTY_IS_FINE = {
    "funnel_deltas",  # folded into funnel_rollup: empty after a rebuild
    "access_log",
    "access_log_cases",
    "idempotency_keys",
    "sign_in_failures",
    "seals",  # written by the running service, over what it finds
    "alembic_version",
    "webhook_endpoints",  # subscribed (and removed again) by the webhook run only
    "webhook_messages",
}


async def warn_empty_tables(url: str, funnel_only: bool) -> None:
    """A table the loader does not fill (a new rollup…) would make the benchmark lie."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        empty = []
        for row in tables:
            name = row["relname"]
            if name in EMPTY_IS_FINE or (funnel_only and name in load.ALL_TABLES):
                continue
            if await conn.fetchval(f'SELECT NOT EXISTS (SELECT 1 FROM "{name}")'):  # noqa: S608
                empty.append(name)
    finally:
        await conn.close()
    if empty:
        say(
            f"WARNING: empty after the load: {', '.join(sorted(empty))} — if the service reads "
            "them, fill them in bench/load.py (POST_LOAD_SQL or COLUMNS)"
        )


async def execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


# --- capture -----------------------------------------------------------------------------------


@dataclass
class Sample:
    """One request to capture, and what its per-request values become in pgbench."""

    method: str
    path: str
    kwargs: dict[str, Any]
    known: dict[str, str]
    header: list[str]
    version: str | None = None
    version_lookup: str | None = None


async def sample_for(op: Op, db: Database, service: Service, attempt: int) -> Sample:
    token = service.sign_in(op.user) if op.key != "sign_in" else ""
    auth = {"Authorization": f"Bearer {token}"}
    uid = {db.users[op.user]: ":uid"}
    n_all = f"\\set n random(1, {db.cases})"
    rng = random.Random(attempt)
    if op.kind == "status_update":
        n = TARGET_RESIDUE + TARGET_MOD * (attempt % target_count(db.cases))
        version = DISTINCT_VERSION + attempt
        await execute(db.url, f"UPDATE cases SET version = {version} WHERE id = '{case_id(n)}'")  # noqa: S608
        return Sample(
            "POST",
            f"/api/v1/cases/{case_id(n)}/transitions",
            {
                "headers": {**auth, "If-Match": f'"{version}"'},
                "json": {
                    "action": "decide",
                    "decision": "on_hold",
                    "reason": "Awaiting security clearance.",
                },
            },
            {case_id(n): case_id_sql(":n"), **uid},
            [
                f"\\set j random(0, {target_count(db.cases) - 1})",
                f"\\set n {TARGET_MOD} * :j + {TARGET_RESIDUE}",
            ],
            version=str(version),
            version_lookup=f"SELECT version FROM cases WHERE id = {case_id_sql(':n')}",  # noqa: S608
        )
    if op.key in ("case_by_id", "possible_duplicates"):
        n = rng.randint(1, db.cases)
        return Sample(
            "GET",
            f"/api/v1/cases/{case_id(n)}{CASE_PATHS[op.key]}",
            {"headers": auth},
            {case_id(n): case_id_sql(":n"), **uid},
            [n_all],
        )
    if op.key == "list_page" or op.paged:
        n = rng.randint(1, db.cases // 2)
        return Sample(
            "GET",
            "/api/v1/cases",
            {"headers": auth, "params": {**list_params(op, db), "cursor": cursor(case_id(n))}},
            {case_id(n): case_id_sql(":n"), **uid},
            [n_all],
        )
    if op.search is not None:
        return Sample(
            "GET", "/api/v1/cases", {"headers": auth, "params": list_params(op, db)}, uid, []
        )
    if op.report is not None:
        return Sample(
            "GET", "/api/v1/reports/funnel", {"headers": auth, "params": op.report}, uid, []
        )
    if op.key == "sign_in":
        return Sample(
            "POST",
            "/api/v1/auth/token",
            {"data": {"username": op.user, "password": PASSWORD}},
            {},
            [],
        )
    raise ValueError(op.key)


#: What follows /api/v1/cases/{id} in the operations on one case drawn at random.
CASE_PATHS = {"case_by_id": "", "possible_duplicates": "/possible-duplicates"}


def list_params(op: Op, db: Database) -> dict[str, str]:
    """The query of a list operation's page, cursor aside."""
    if op.search is not None:
        return {"q": db.searches[op.search], "limit": "50"}
    return {"status": "submitted", "limit": "50"}


def cursor(case_uuid: str) -> str:
    """A keyset cursor made by the service's own encoder (cursors are opaque to clients)."""
    from app.services.pagination import encode_id

    return encode_id(uuid.UUID(case_uuid))


async def capture_all(bench: Bench, ops: list[Op]) -> None:
    db = bench.main
    assert db is not None
    log = Path(os.environ["BENCH_PG_LOG"]) if "BENCH_PG_LOG" in os.environ else None
    log = log or capture.server_log(urlsplit(db.url).port or 5432)
    say(f"capturing the service's SQL (server log {log})")
    await execute(
        db.url,
        f"ALTER DATABASE {db.name} SET log_min_duration_statement = 0",
        f"ALTER DATABASE {db.name} SET log_parameter_max_length = -1",
    )
    service = Service(db.url, bench.config.port, 1, OUT / "service-capture.log", env=QUIET)
    conn = await asyncpg.connect(db.url, server_settings={"log_min_duration_statement": "-1"})
    try:
        service.start()
        columns = await capture.sequence_columns(conn)
        tail = capture.LogTail(log)
        with service.client() as client:
            for op in ops:
                runs: list[list[Statement]] = []
                for attempt in range(4):
                    sample = await sample_for(op, db, service, attempt)
                    before = await capture.sequence_state(conn)
                    tail.mark()
                    answer = client.request(sample.method, sample.path, **sample.kwargs)
                    if answer.status_code >= 300:
                        raise RuntimeError(
                            f"{op.key}: {sample.method} {sample.path} answered "
                            f"{answer.status_code}: {answer.text[:400]}"
                        )
                    await asyncio.sleep(0.1)
                    statements = capture.by_connection(capture.parse_log(tail.read(), db.name))
                    if not statements:
                        raise RuntimeError(f"{op.key}: nothing captured from {log}")
                    after = await capture.sequence_state(conn)
                    runs.append(statements)
                fresh = capture.fresh_values(before, after, columns)
                reads = await capture.read_back(conn, statements)
                script = capture.to_pgbench(
                    op.key,
                    statements,
                    header=sample.header,
                    known=sample.known,
                    version=sample.version,
                    version_lookup=sample.version_lookup,
                    fresh=fresh,
                    reads=reads,
                    defines={"uid": db.users[op.user]},
                )
                path = OUT / "pgbench" / f"{op.key}.sql"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(script.text)
                (OUT / "pgbench" / f"{op.key}.defines.json").write_text(
                    json.dumps(script.defines, indent=1)
                )
                (OUT / "captured").mkdir(parents=True, exist_ok=True)
                (OUT / "captured" / f"{op.key}.json").write_text(
                    json.dumps(capture.as_json(statements), indent=1)
                )
                stable = capture.same_shape(runs[-1], runs[-2])
                bench.captured[op.key] = Captured(op, statements, script, path, stable)
                say(
                    f"  {op.key}: {len(statements)} statements"
                    + ("" if stable else " (WARNING: differs from the previous request)")
                )
    finally:
        service.stop()
        await conn.close()
        await execute(
            db.url,
            f"ALTER DATABASE {db.name} RESET log_min_duration_statement",
            f"ALTER DATABASE {db.name} RESET log_parameter_max_length",
        )


async def validate(bench: Bench) -> None:
    """Every script runs without error; the update's script really updates a case."""
    db = bench.main
    assert db is not None
    for key, cap in bench.captured.items():
        if cap.op.key != key:
            continue  # another operation's script, validated as that one
        counts = await _write_counts(db.url) if cap.op.write else None
        measure.pgbench(db.url, cap.script, cap.path, conns=1, transactions=20)
        if counts is not None:
            events, versions = await _write_counts(db.url)
            if events - counts[0] != 20 or versions - counts[1] != 20:
                raise RuntimeError(
                    f"{key}: 20 pgbench transactions added {events - counts[0]} events and "
                    f"{versions - counts[1]} versions (expected 20 each): see {cap.path}"
                )
    say("pgbench scripts validated (20 transactions each, no error; updates really update)")


async def _write_counts(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        events = await conn.fetchval("SELECT count(*) FROM case_events")
        versions = await conn.fetchval(
            "SELECT sum(version) FROM cases WHERE id IN (SELECT "  # noqa: S608
            + case_id_sql("n")
            + f" FROM generate_series({TARGET_RESIDUE}, $1, {TARGET_MOD}) AS n)",
            (await conn.fetchval("SELECT count(*) FROM cases")),
        )
        return int(events), int(versions)
    finally:
        await conn.close()


# --- measurement -------------------------------------------------------------------------------


@asynccontextmanager
async def subscribed(
    db: Database, service: Service, user: str, url: str
) -> AsyncIterator[list[int]]:
    """A webhook endpoint for ``user`` at ``url`` (subscribed by the admin, as in real use)
    while the block runs; the list given gets the number of messages written meanwhile."""
    admin = {"Authorization": f"Bearer {service.sign_in('bench_admin')}"}
    with service.client() as client:
        made = client.post(
            "/api/v1/webhooks", json={"user_id": db.users[user], "url": url}, headers=admin
        )
        if made.status_code != 201:
            raise RuntimeError(f"subscribing a webhook answered {made.status_code}: {made.text}")
        endpoint = made.json()["id"]
        written: list[int] = []
        try:
            yield written
        finally:
            written.append(await _messages(db.url, endpoint, pending_only=False))
            await _drained(db.url, endpoint)
            client.delete(f"/api/v1/webhooks/{endpoint}", headers=admin)


#: the status update's CPU per request may be at most this many times /healthz's (issue 20)
CPU_TARGET = 3.0


def cpu_note(bench: Bench, service: Service) -> str:
    """The workers' CPU per request of each measured operation, beside a ``/healthz`` request's
    measured now (what the web stack alone costs), at 32 connections."""
    data_path = OUT / "wrk" / "healthz.data.lua"
    measure.write_lua_data(
        data_path, {"method": "GET", "path": "/healthz", "headers": {}, "body": ""}
    )
    before = service.cpu_seconds()
    result = measure.wrk(
        service.base, "fixed.lua", data_path, conns=32, seconds=bench.config.seconds
    )
    healthz = 1000 * (service.cpu_seconds() - before) / max(result.transactions, 1)
    parts = [
        f"{key} @ {conns}: {ms:.2f} ms ({ms / healthz:.1f} ×)"
        for (key, conns), ms in sorted(bench.extra.cpu_ms.items())
    ]
    update = bench.extra.cpu_ms.get(("status_update", 32))
    verdict = (
        "not judged (status update at 32 connections not measured)"
        if update is None
        else f"{'PASS' if update <= CPU_TARGET * healthz else 'MISS'} "
        f"(status update {update / healthz:.1f} × /healthz, target ≤ {CPU_TARGET:.0f} ×)"
    )
    return (
        f"workers' CPU per request (user + system ÷ requests, background work included): "
        f"/healthz {healthz:.2f} ms ({result.tps:,.0f} req/s at 32 connections); "
        + "; ".join(parts)
        + f" — {verdict}"
    )


async def _messages(url: str, endpoint: str, *, pending_only: bool) -> int:
    conn = await asyncpg.connect(url)
    try:
        where = " AND status = 'pending'" if pending_only else ""
        return int(
            await conn.fetchval(
                f"SELECT count(*) FROM webhook_messages WHERE endpoint_id = $1::uuid{where}",  # noqa: S608
                endpoint,
            )
        )
    finally:
        await conn.close()


async def _drained(url: str, endpoint: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await _messages(url, endpoint, pending_only=True):
            return
        await asyncio.sleep(0.5)


def delivered_note(receiver: Receiver, written: list[int]) -> str:
    return (
        f"status_update_webhook: {written[0]:,} messages written during the runs, "
        f"{receiver.count:,} requests received ({len(receiver.ids):,} distinct webhook-ids) "
        "once the queue had drained (up to 60 s after the last run)"
    )


#: The capturing service runs no background work (folding, sealing, retention, webhook
#: delivery): the statements it sends meanwhile would be taken for the request's own.
QUIET = {
    "PTA_FUNNEL_FOLD_SECONDS": "0",
    "PTA_SEAL_SECONDS": "0",
    "PTA_RETENTION_INTERVAL_SECONDS": "0",
    "PTA_WEBHOOK_POLL_SECONDS": "0",
}


async def settle(url: str) -> None:
    """Start each measurement from the same state: dead rows vacuumed, no checkpoint pending."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def lua_data(op: Op, db: Database, service: Service) -> dict[str, Any]:
    auth = f"Bearer {service.sign_in(op.user)}" if op.key != "sign_in" else ""
    if op.kind == "status_update":
        ids = [case_id(n) for n in range(TARGET_RESIDUE, db.cases + 1, TARGET_MOD)]
        conn = await asyncpg.connect(db.url)
        try:
            rows = await conn.fetch(
                "SELECT id::text, version FROM cases WHERE id = ANY($1::uuid[])", ids
            )
        finally:
            await conn.close()
        versions = {row["id"]: row["version"] for row in rows}
        return {
            "auth": auth,
            "cases": ids,
            "versions": [versions[i] for i in ids],
            "body": json.dumps(
                {
                    "action": "decide",
                    "decision": "on_hold",
                    "reason": "Awaiting security clearance.",
                }
            ),
        }
    if op.key in CASE_PATHS:
        return {
            "auth": auth,
            "n": db.cases,
            "base_ms": load.BASE_MS,
            "tail": load.UUID_TAIL,
            "suffix": CASE_PATHS[op.key],
        }
    path = f"/api/v1/cases?{urlencode(list_params(op, db))}"
    if op.key == "list_page" or op.paged:
        rng = random.Random(7)
        return {
            "auth": auth,
            "path": f"{path}&cursor=",
            "cursors": [cursor(case_id(rng.randint(1, db.cases))) for _ in range(20_000)],
        }
    if op.search is not None:
        return {"method": "GET", "path": path, "headers": {"Authorization": auth}, "body": ""}
    if op.report is not None:
        return {
            "method": "GET",
            "path": f"/api/v1/reports/funnel?{urlencode(op.report)}".rstrip("?"),
            "headers": {"Authorization": auth},
            "body": "",
        }
    if op.key == "sign_in":
        return {
            "method": "POST",
            "path": "/api/v1/auth/token",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": f"username={op.user}&password={PASSWORD}",
        }
    raise ValueError(op.key)


async def measure_op(
    bench: Bench, op: Op, db: Database, service: Service, label: str, row_key: str
) -> None:
    cap = bench.captured[op.key]
    config = bench.config
    defines = {"uid": db.users[op.user]}
    say(f"{label}: pgbench and wrk at {', '.join(map(str, op.conns))} connections")
    await settle(db.url)
    pg: dict[int, Result] = {}
    with service.paused() if op.outbox else contextlib.nullcontext():
        if config.warmup:
            measure.pgbench(
                db.url,
                cap.script,
                cap.path,
                conns=op.conns[0],
                seconds=config.warmup,
                defines=defines,
            )
        for conns in op.conns:
            if op.write:
                await settle(db.url)
            pg[conns] = measure.pgbench(
                db.url, cap.script, cap.path, conns=conns, seconds=config.seconds, defines=defines
            )
            say(
                f"  pgbench c={conns}: {pg[conns].tps:,.0f} tps, p99 {pg[conns].p99_ms or 0:.1f} ms"
            )
            if conns == op.conns[0] and row_key not in bench.extra.statement_ms:
                bench.extra.statement_ms[row_key] = pg[conns].detail["ms_per_statement"]
        if op.outbox:  # pgbench's messages: never to be delivered
            await execute(db.url, "DELETE FROM webhook_messages")
    data_path = OUT / "wrk" / f"{op.key}.data.lua"
    if config.warmup:
        measure.write_lua_data(data_path, await lua_data(op, db, service))
        measure.wrk(service.base, op.lua, data_path, conns=op.conns[0], seconds=config.warmup)
    for conns in op.conns:
        if op.write:
            await settle(db.url)
        measure.write_lua_data(data_path, await lua_data(op, db, service))
        cpu_before = service.cpu_seconds()
        result = measure.wrk(service.base, op.lua, data_path, conns=conns, seconds=config.seconds)
        if result.transactions:
            used = service.cpu_seconds() - cpu_before
            bench.extra.cpu_ms[(row_key, conns)] = 1000 * used / result.transactions
        say(
            f"  wrk     c={conns}: {result.tps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, non-2xx {result.detail['non_2xx']}"
            + (f" {result.detail['statuses']}" if result.detail["statuses"] else "")
        )
        bench.rows.append(
            Row(
                key=row_key,
                label=label,
                conns=conns,
                statements=cap.script.statements,
                round_trips=cap.script.round_trips,
                pgbench_tps=pg[conns].tps,
                pgbench_p99_ms=pg[conns].p99_ms,
                service_rps=result.tps,
                p50_ms=result.p50_ms,
                p99_ms=result.p99_ms,
                non_2xx=result.failures,
                note="" if cap.stable else "SQL differs between requests",
            )
        )


def row_order(row: Row) -> tuple[float, float, int]:
    """Operations in OPS order (a baseline's right after the status update); funnel rows by
    size; then by concurrency."""
    op, _, size = row.key.partition("@")
    scale = {"k": 1e3, "M": 1e6}
    cases = float(size[:-1]) * scale[size[-1]] if size and size[-1] in scale else 0.0
    place = list(OPS).index("status_update") + 0.5 if op == baseline.KEY else list(OPS).index(op)
    return place, cases, row.conns


def size_label(cases: int) -> str:
    if cases >= 1_000_000 and cases % 1_000_000 == 0:
        return f"{cases // 1_000_000}M"
    if cases >= 1000 and cases % 1000 == 0:
        return f"{cases // 1000}k"
    return str(cases)


def demo_load_time() -> str:
    """``pta demo load`` on a fresh SQLite file (after ``pta db upgrade``), if it exists."""
    pta = load.PTA
    probe = subprocess.run([pta, "demo", "load", "--help"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "n/a (no `pta demo load` yet)"
    path = OUT / "demo.db"
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PTA_DATABASE_URL": f"sqlite:///{path}"}
    times = []
    for command in (["db", "upgrade"], ["demo", "load"]):
        started = time.perf_counter()
        done = subprocess.run(
            [pta, *command], capture_output=True, text=True, env=env, cwd=load.ROOT, check=False
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            return f"failed: pta {' '.join(command)} exited {done.returncode}: {last[:200]}"
    return f"{times[1]:.1f} s (after pta db upgrade: {times[0]:.1f} s)"


def context_lines(config: Config, started: float, load_before: str) -> list[str]:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        cwd=load.ROOT,
        check=False,
    ).stdout.strip()
    return [
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}, "
        f"{os.cpu_count()} CPUs, load average {load_before} before / "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after, "
        f"{time.time() - started:.0f} s in all.",
        f"Settings: {config.cases:,} cases, {config.seconds} s per run, pta serve --workers "
        f"{config.workers}, pgbench -M prepared -j 2, wrk -t 2"
        + (" (--quick)" if config.quick else "")
        + ".",
    ]


async def main_async(config: Config) -> int:
    started = time.time()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if not measure.have_wrk():
        raise SystemExit(
            "wrk is not installed: "
            "command -v wrk || (apt-get update -qq && apt-get install -y -qq wrk)"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    bench = Bench(config)
    ops = [OPS[key] for key in config.ops if key in OPS]
    bench.main = await database(config, config.database, config.cases, funnel_only=False)
    conn = await asyncpg.connect(bench.main.url)
    try:
        bench.main.searches = await explain.search_terms(conn)
    finally:
        await conn.close()
    await capture_all(bench, list({OPS[op.kind].key: OPS[op.kind] for op in ops}.values()))
    for op in ops:
        bench.captured[op.key] = bench.captured[op.kind]
    await validate(bench)
    main = bench.main
    service = Service(
        main.url,
        config.port,
        config.workers,
        OUT / "service.log",
        env={
            "PTA_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver of the webhook run is local
            # a fresh load has a backlog of cases due for erasure, which the service would
            # erase a minute after start, in the middle of a measurement (timed on its own:
            # retention_apply)
            "PTA_RETENTION_INTERVAL_SECONDS": "0",
        },
    )
    with service:
        for op in ops:
            if op.key == "status_update_webhook":
                with Receiver(config.port + 2) as receiver:
                    async with subscribed(main, service, op.user, receiver.url) as written:
                        await measure_op(bench, op, main, service, op.label, op.key)
                    bench.extra.notes.append(delivered_note(receiver, written))
                continue
            if op.report is not None:
                if config.cases in config.funnel_sizes:
                    at = size_label(config.cases)
                    await measure_op(
                        bench, op, main, service, f"{op.label} @ {at}", f"{op.key}@{at}"
                    )
                continue
            await measure_op(bench, op, main, service, op.label, op.key)
        bench.extra.notes.append(cpu_note(bench, service))
        bench.extra.rss = service.memory()
    for n, commit in enumerate(config.baselines):
        try:
            bench.rows += baseline.measure(
                commit,
                cases=config.cases,
                seconds=config.seconds,
                quick=config.quick,
                port=config.port + 3 + 2 * n,
                reuse=config.reuse,
                say=say,
            )
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            # a commit whose own bench cannot run (e.g. before the wrk script was fixed) costs
            # its rows, not this run's
            bench.extra.notes.append(f"baseline {commit}: not measured ({error})")
    reports = [op for op in ops if op.report is not None]
    if reports:
        for size in config.funnel_sizes:
            if size == config.cases:
                continue
            db = await database(
                config, f"pta_bench_f{size_label(size).lower()}", size, funnel_only=True
            )
            with Service(
                db.url, config.port + 1, config.workers, OUT / f"service-f{size}.log"
            ) as other:
                for op in reports:
                    label, key = f"{op.label} @ {size_label(size)}", f"{op.key}@{size_label(size)}"
                    await measure_op(bench, op, db, other, label, key)
    if "audit_verify" in config.ops:
        # pgbench replays the event insert with the captured request's constants, so the main
        # database's chains break at its first event: verified on a database nobody writes to
        audited = await database(config, jobs.AUDIT_DB, config.cases, funnel_only=False)
        say(f"timing pta audit verify over {audited.name}")
        bench.extra.notes.append(jobs.audit_verify(audited.url, audited.cases))
    if "retention_apply" in config.ops:
        wanted = jobs.RETENTION_DUE // (10 if config.quick else 1)
        bench.extra.notes.append(await jobs.retention_apply(config.server, wanted, say))
    say("timing pta demo load")
    bench.extra.demo_load = demo_load_time()
    say("EXPLAIN of every officer filter combination")
    bench.extra.notes.append(explain.summary(await explain.check(main.url)))
    bench.rows.sort(key=row_order)
    report.judge(bench.rows)
    baseline.judge(bench.rows)
    for key, cap in bench.captured.items():
        bench.extra.captured[key] = capture.describe(cap.statements)
        bench.extra.notes += [f"{key}: {note}" for note in dict.fromkeys(cap.script.notes)]
    bench.extra.notes.append(
        "ratio = service req/s ÷ pgbench tps at the same concurrency; stmts (trips) = statements "
        "per request, BEGIN/COMMIT included, captured from the server log (round trips: an "
        "executemany is one pipeline); p50/p99 are wrk's."
    )
    measured = {row.key for row in bench.rows}
    for op in ops:
        if op.report is not None and not {f"{op.key}@1M", f"{op.key}@10M"} <= measured:
            bench.extra.notes.append(
                f"{op.key} target (p50 < 20 ms at 1 M and 10 M cases) not judged: those points "
                "were not measured (make bench measures them; --quick does not)"
            )
    bench.extra.context = context_lines(config, started, load_before)
    text = report.text_table(bench.rows, bench.extra)
    print()
    print(text)
    (OUT / "last-run.txt").write_text(text)
    (OUT / "last-run.md").write_text(report.markdown(bench.rows, bench.extra))
    (OUT / "last-run.json").write_text(
        json.dumps(report.as_json(bench.rows, bench.extra), indent=1)
    )
    say(
        f"written: {OUT / 'last-run.txt'}, last-run.md, last-run.json; scripts in {OUT / 'pgbench'}"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="100 k cases, 5 s runs (minutes)")
    parser.add_argument("--cases", type=int, help="cases in pta_bench (default 1 M; quick 100 k)")
    parser.add_argument("--seconds", type=int, help="per measurement (default 30; quick 5)")
    parser.add_argument(
        "--funnel-sizes",
        help="comma-separated case counts for the funnel (default 100000,1000000,10000000; "
        "quick: the main size only)",
    )
    parser.add_argument(
        "--ops",
        default=",".join([*OPS, *JOBS]),
        help=f"subset of {','.join([*OPS, *JOBS])}, or a group: {', '.join(GROUPS)} (default all)",
    )
    parser.add_argument("--workers", type=int, default=2, help="pta serve --workers (2)")
    parser.add_argument("--port", type=int, default=18350, help="service port (and port + 1)")
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", load.DEFAULT_SERVER))
    parser.add_argument(
        "--database", default=MAIN_DB, help=f"the main database's name (default {MAIN_DB})"
    )
    parser.add_argument(
        "--baseline",
        metavar="COMMIT",
        action="append",
        default=[],
        help="also measure that commit's status update, in its own worktree and database "
        "(bench/baseline.py), and judge ours ≥ 0.9 × it (may be repeated)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep pta_bench* databases that already hold the right number of cases",
    )
    args = parser.parse_args(argv)
    cases = args.cases or (100_000 if args.quick else 1_000_000)
    if args.funnel_sizes:
        sizes = [int(s) for s in args.funnel_sizes.split(",")]
    else:
        sizes = [cases] if args.quick else [100_000, 1_000_000, 10_000_000]
    named = [o.strip() for o in args.ops.split(",") if o.strip()]
    ops = list(dict.fromkeys(key for o in named for key in GROUPS.get(o, [o])))
    unknown = set(ops) - set(OPS) - set(JOBS)
    if unknown:
        parser.error(f"unknown operation(s): {', '.join(sorted(unknown))}")
    return Config(
        cases=cases,
        seconds=args.seconds or (5 if args.quick else 30),
        warmup=2 if args.quick else 5,
        funnel_sizes=sizes,
        ops=ops,
        workers=args.workers,
        port=args.port,
        server=args.server,
        reuse=args.reuse,
        quick=args.quick,
        database=args.database,
        baselines=args.baseline,
    )


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
