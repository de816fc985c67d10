# ruff: noqa: E501  (a PostgreSQL log excerpt, kept verbatim)
"""The benchmark harness's own pieces: reading PostgreSQL's statement log, turning a captured
transaction into a pgbench script, and (on PostgreSQL only) the bulk loader at 1 k cases."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.config import Settings
from app.db import make_engine
from app.models.lifecycle import TRANSITIONS
from app.services import verify
from app.vocabulary import Action, CaseStatus
from bench import capture, explain, load
from bench.capture import Statement

LOG = """\
2026-11-27 07:15:14.293 UTC [4713] postgres@pta_bench LOG:  duration: 0.048 ms  statement: BEGIN;
2026-11-27 07:15:14.293 UTC [4713] postgres@pta_bench LOG:  duration: 0.192 ms  parse __asyncpg_stmt_e__: SELECT cases.id, cases.version
\tFROM cases
\tWHERE cases.id = $1::UUID
2026-11-27 07:15:14.294 UTC [4713] postgres@pta_bench LOG:  duration: 0.140 ms  bind __asyncpg_stmt_e__: SELECT cases.id, cases.version
\tFROM cases
\tWHERE cases.id = $1::UUID
2026-11-27 07:15:14.294 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = '0151fa7b-dc6b-7000-8000-000000000000'
2026-11-27 07:15:14.294 UTC [4713] postgres@pta_bench LOG:  duration: 0.021 ms  execute __asyncpg_stmt_e__: SELECT cases.id, cases.version
\tFROM cases
\tWHERE cases.id = $1::UUID
2026-11-27 07:15:14.294 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = '0151fa7b-dc6b-7000-8000-000000000000'
2026-11-27 07:15:14.295 UTC [9999] postgres@other_db ERROR:  relation "x" does not exist
2026-11-27 07:15:14.296 UTC [4713] postgres@pta_bench LOG:  duration: 1.5 ms  execute __asyncpg_stmt_f__: UPDATE cases SET note=$1::VARCHAR, closed_at=$2::TIMESTAMP WITH TIME ZONE WHERE cases.id = $3::UUID AND cases.version = $4::INTEGER
2026-11-27 07:15:14.296 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = 'it''s, $2 = done', $2 = NULL, $3 = '0151fa7b-dc6b-7000-8000-000000000000', $4 = '900001'
2026-11-27 07:15:14.297 UTC [4713] postgres@pta_bench LOG:  duration: 0.4 ms  execute __asyncpg_stmt_g__: INSERT INTO access_log (at) VALUES ($1::TIMESTAMP WITH TIME ZONE) RETURNING access_log.id
2026-11-27 07:15:14.297 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = '2026-11-27 07:15:14.2+00'
2026-11-27 07:15:14.298 UTC [4713] postgres@pta_bench LOG:  duration: 0.1 ms  execute __asyncpg_stmt_h__: INSERT INTO access_log_cases (access_log_id, case_id) VALUES ($1::BIGINT, $2::UUID)
2026-11-27 07:15:14.298 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = '42', $2 = '0151fa7b-dc6b-7000-8000-000000000001'
2026-11-27 07:15:14.298 UTC [4713] postgres@pta_bench LOG:  duration: 0.1 ms  execute __asyncpg_stmt_h__: INSERT INTO access_log_cases (access_log_id, case_id) VALUES ($1::BIGINT, $2::UUID)
2026-11-27 07:15:14.298 UTC [4713] postgres@pta_bench DETAIL:  parameters: $1 = '42', $2 = '0151fa7b-dc6b-7000-8000-000000000002'
2026-11-27 07:15:14.299 UTC [4713] postgres@pta_bench LOG:  duration: 0.075 ms  statement: COMMIT;
"""


def test_the_log_gives_each_statement_with_its_parameters() -> None:
    statements = capture.parse_log(LOG, "pta_bench")

    assert [s.sql.split()[0] for s in statements] == [
        "BEGIN;",
        "SELECT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "INSERT",
        "COMMIT;",
    ]
    assert statements[0].params is None  # simple protocol
    assert (
        statements[1].sql == "SELECT cases.id, cases.version\nFROM cases\nWHERE cases.id = $1::UUID"
    )
    assert statements[1].params == ["0151fa7b-dc6b-7000-8000-000000000000"]
    assert statements[2].params == [
        "it's, $2 = done",
        None,
        "0151fa7b-dc6b-7000-8000-000000000000",
        "900001",
    ]
    assert capture.round_trips(statements) == 6  # the two identical inserts: one pipeline


def test_a_captured_transaction_becomes_a_pgbench_script() -> None:
    statements = capture.parse_log(LOG, "pta_bench")
    case = "0151fa7b-dc6b-7000-8000-000000000000"

    script = capture.to_pgbench(
        "demo",
        statements,
        header=["\\set n random(1, 10)"],
        known={case: load.case_id_sql(":n")},
        version="900001",
        fresh={"42": ("access_log", "id")},
        reads={1: {"id": case, "version": "900002"}},
    )

    lines = script.text.splitlines()
    assert lines[1] == "\\set n random(1, 10)"
    assert lines[2] == "BEGIN;"
    assert lines[5].endswith("\\aset s1_")  # the read that gives the version
    update = next(line for line in lines if line.startswith("UPDATE"))
    assert "cases.version = :s1_version::INTEGER" in update
    assert f"cases.id = {load.case_id_sql(':n')}::UUID" in update
    assert "closed_at=NULL::TIMESTAMP" in update
    assert script.defines["c1"] == "it's, $2 = done"  # a constant, bound as a parameter
    assert any(line.endswith("RETURNING access_log.id \\aset s3_") for line in lines)
    assert lines.count("\\startpipeline") == 1 and lines.count("\\endpipeline") == 1
    assert sum("VALUES (:s3_id::BIGINT" in line for line in lines) == 2
    assert lines[-1] == "COMMIT;"
    assert (script.statements, script.round_trips) == (7, 6)


def test_statements_of_two_connections_are_replayed_one_connection_after_the_other() -> None:
    mixed = [
        Statement(1, "BEGIN"),
        Statement(2, "BEGIN"),
        Statement(2, "SELECT 2", []),
        Statement(1, "SELECT 1", []),
        Statement(2, "COMMIT"),
        Statement(1, "COMMIT"),
    ]

    ordered = capture.by_connection(mixed)

    assert [(s.pid, s.sql) for s in ordered] == [
        (1, "BEGIN"),
        (1, "SELECT 1"),
        (1, "COMMIT"),
        (2, "BEGIN"),
        (2, "SELECT 2"),
        (2, "COMMIT"),
    ]


def test_case_ids_are_time_ordered_and_reversible() -> None:
    ids = [load.case_id(n) for n in (1, 2, 999_999, 10_000_000)]

    assert ids == sorted(ids)
    assert [load.case_number(i) for i in ids] == [1, 2, 999_999, 10_000_000]
    assert load.target_count(1000) == 10 and load.target_count(6) == 0


def test_sequential_scans_are_judged_only_at_the_size_the_target_names() -> None:
    scan = ["transit officer CRI, resettlement_country (first page): transit_stays"]

    small = explain.summary(explain.Outcome(cases=100_000, checked=256, seq_scans=scan))
    large = explain.summary(explain.Outcome(cases=1_000_000, checked=256, seq_scans=scan))
    clean = explain.summary(explain.Outcome(cases=1_000_000, checked=256))

    assert "at 100,000 cases" in small and "not judged" in small and "MISS" not in small
    assert small.splitlines()[1] == f"  seq scan: {scan[0]}"
    assert large.splitlines()[0].endswith("index scans only: MISS")
    assert clean.endswith("index scans only: PASS")


def _postgres() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgresql://", "postgres://")):
        pytest.skip("the loader needs PostgreSQL (TEST_DATABASE_URL)")
    parts = urlsplit(url)  # a benchmark database named after the test database
    return urlunsplit(parts._replace(path=f"/pta_bench_loader_{parts.path.strip('/')}"))


async def test_the_loader_fills_a_consistent_database_at_1k_cases() -> None:
    url = _postgres()
    users, report = await load.prepare_database(url, 1000)
    conn = await asyncpg.connect(url)
    try:
        assert report.rows["cases"] == 1000
        assert await conn.fetchval("SELECT count(*) FROM cases") == 1000
        assert await conn.fetchval("SELECT count(*) FROM users") == len(load.USERS)
        checks = {
            "members match member_count, one principal": """
                SELECT count(*) FROM cases c WHERE member_count <>
                  (SELECT count(*) FROM members m WHERE m.case_id = c.id)
                OR 1 <> (SELECT count(*) FROM members m WHERE m.case_id = c.id AND is_principal)""",
            "version = number of events": """
                SELECT count(*) FROM cases c
                WHERE version <> (SELECT count(*) FROM case_events e WHERE e.case_id = c.id)""",
            "first_submitted_at iff a submission": """
                SELECT count(*) FROM cases c WHERE (first_submitted_at IS NOT NULL)
                  <> EXISTS (SELECT 1 FROM submissions s WHERE s.case_id = c.id)""",
            "transit_entered_at iff a stay entered": """
                SELECT count(*) FROM cases c WHERE (transit_entered_at IS NOT NULL)
                  <> EXISTS (SELECT 1 FROM transit_stays s
                             WHERE s.case_id = c.id AND s.entered_at IS NOT NULL)""",
            "milestones in order": """
                SELECT count(*) FROM cases WHERE NOT (
                  identified_at <= coalesce(first_submitted_at, identified_at)
                  AND coalesce(first_submitted_at, identified_at)
                      <= coalesce(transit_entered_at, departed_at, resettled_at, 'infinity')
                  AND coalesce(departed_at, resettled_at, 'infinity')
                      <= coalesce(resettled_at, 'infinity'))""",
            "status consistent with milestones": """
                SELECT count(*) FROM cases WHERE
                  (status = 'resettled' AND (resettled_at IS NULL OR departed_at IS NULL))
                  OR (status IN ('submitted', 'in_transit', 'departed')
                      AND first_submitted_at IS NULL)
                  OR (status = 'in_transit' AND transit_entered_at IS NULL)
                  OR (status = 'closed' AND (closed_at IS NULL OR status_before_close IS NULL))
                  OR (status IN ('identified', 'assessment', 'pending_review')
                      AND first_submitted_at IS NOT NULL AND status <> 'pending_review')""",
            "events start with create, in id order": """
                SELECT count(*) FROM cases c WHERE 'create' <>
                  (SELECT action FROM case_events e WHERE e.case_id = c.id ORDER BY id LIMIT 1)""",
            "new references cannot collide": """
                SELECT count(*) FROM cases c
                LEFT JOIN reference_counters r ON r.origin_country = c.origin_country
                  AND r.year = split_part(c.reference, '-', 3)::int
                WHERE r.last_number IS NULL
                   OR split_part(c.reference, '-', 4)::int > r.last_number""",
        }
        for name, sql in checks.items():
            assert await conn.fetchval(sql) == 0, name
        # every simulated step is one the service's state machine allows
        steps = await conn.fetch(
            "SELECT DISTINCT from_status, action, to_status FROM case_events "
            "WHERE action NOT IN ('create', 'update')"
        )
        for from_status, action, to_status in steps:
            step = TRANSITIONS.get((CaseStatus(from_status), Action(action)))
            assert step is not None, (from_status, action)
            assert step.to in (None, CaseStatus(to_status)), (from_status, action, to_status)
        submitted = await conn.fetchval(
            "SELECT count(*) FROM cases WHERE first_submitted_at IS NOT NULL"
        )
        assert 400 <= submitted <= 700  # ≈ half the cases
        assert await conn.fetchval("SELECT count(*) FROM transit_stays") >= 100
        # ids in SQL (pgbench scripts) and in Python agree
        assert await conn.fetchval(f"SELECT {load.case_id_sql('$1')}::text", 107) == load.case_id(
            107
        )
        # the indexes and constraints dropped for the load are all back
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid = 'case_events'::regclass"
            )
            == 2
        )
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE tablename = 'cases'") >= 8
        # every event chained as the service chains them (pta audit verify)
        engine = make_engine(url, Settings(database_url=url, secret_key="x" * 32), pool_size=1)
        try:
            verified = await verify.verify(engine)
        finally:
            await engine.dispose()
        assert verified.broken is None, verified.broken
        assert verified.cases == 1000 and verified.events > 5000
        assert set(users) >= {name for name, _role, _country in load.USERS}
    finally:
        await conn.close()
        admin = await asyncpg.connect(load.server_url(url))
        try:
            name = urlsplit(url).path.strip("/")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def test_the_status_update_with_a_webhook_is_judged_against_the_plain_one() -> None:
    from bench.report import Row, judge

    def row(key: str, conns: int, rps: float) -> Row:
        return Row(key, key, conns, 5, 5, 1000.0, 5.0, rps, 2.0, 10.0)

    rows = [
        row("status_update", 8, 500),
        row("status_update", 32, 600),
        row("status_update_webhook", 8, 460),
        row("status_update_webhook", 32, 500),
    ]
    judge(rows)
    verdicts = {(r.key, r.conns): (r.target, r.verdict, r.note) for r in rows[2:]}
    assert verdicts == {
        ("status_update_webhook", 8): ("≥ 0.9 × without webhook", "PASS", "0.92 × without"),
        ("status_update_webhook", 32): ("≥ 0.9 × without webhook", "MISS", "0.83 × without"),
    }
