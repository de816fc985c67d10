"""Migrations: upgrade an empty database to head, find nothing the models lack, go back down."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Connection, make_url

from app import migrate
from app.config import Settings
from app.db import make_engine
from app.models import Base
from tests.conftest import SECRET


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so the shared test schema is left alone."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    import asyncio

    import asyncpg

    name = f"pta_migrations_{uuid.uuid4().hex[:8]}"
    server = make_url(database_url).set(database="postgres")
    dsn = server.render_as_string(hide_password=False)

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, settings: Settings, check: Any) -> Any:
    import asyncio

    async def run() -> Any:
        engine = make_engine(url, settings, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(check)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            **migrate.comparison(conn.dialect.name),
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def test_upgrade_matches_models_and_downgrade_empties(empty_database: str) -> None:
    settings = Settings(database_url=empty_database, secret_key=SECRET)
    migrate.upgrade(settings)
    assert _inspect(empty_database, settings, _differences) == []
    assert set(Base.metadata.tables) <= _inspect(empty_database, settings, _tables)

    migrate.downgrade(settings, revision="base")
    assert _inspect(empty_database, settings, _tables) <= {"alembic_version"}


def _run(url: str, settings: Settings, statements: Any) -> Any:
    """Run ``statements(conn)`` in one transaction on ``url``."""
    import asyncio

    async def run() -> Any:
        engine = make_engine(url, settings, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await statements(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.reliability
def test_0004_keeps_users_that_differ_only_by_case(empty_database: str) -> None:
    """A database at 0003 holding "Ana" and later "ana": after 0004 both are still there
    (ids, roles, password hashes untouched), the older keeps its name, the later one is
    renamed <name>-<first 8 hex digits of its id>, and "ANA" can no longer be added."""

    settings = Settings(database_url=empty_database, secret_key=SECRET)
    migrate.upgrade(settings, revision="0003")
    older, later, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = [
        (older, "Ana", "2026-01-01 10:00:00"),
        (later, "ana", "2026-02-01 10:00:00"),
        (other, "bob", "2026-01-15 10:00:00"),
    ]

    async def fill(conn: Any) -> None:
        from datetime import datetime

        from app.models import User

        for user_id, name, at in rows:
            values = {"id": user_id, "username": name, "password_hash": f"hash-{name}"}
            values |= {"role": "caseworker", "active": True, "token_generation": 0}
            stamp = datetime.fromisoformat(at + "+00:00")
            await conn.execute(insert(User).values(**values, created_at=stamp, updated_at=stamp))

    _run(empty_database, settings, fill)
    migrate.upgrade(settings)

    async def read(conn: Any) -> Any:
        from sqlalchemy import select

        from app.models import User

        result = await conn.execute(select(User.id, User.username, User.password_hash))
        return {row[0]: (row[1], row[2]) for row in result}

    users = _run(empty_database, settings, read)
    assert users == {
        older: ("Ana", "hash-Ana"),
        later: (f"ana-{later.hex[:8]}", "hash-ana"),
        other: ("bob", "hash-bob"),
    }

    async def add_again(conn: Any) -> None:
        from app.models import User

        await conn.execute(
            insert(User).values(id=uuid.uuid4(), username="ANA", password_hash="x", role="manager")
        )

    with pytest.raises(Exception, match=r"(?i)unique"):
        _run(empty_database, settings, add_again)


@pytest.mark.reliability
def test_0008_keeps_the_access_log_with_its_cases_and_fills_the_readers_country(
    empty_database: str,
) -> None:
    """On SQLite 0008 rebuilds ``access_log`` (its CHECK gains subject_access), whose cases
    hang on it with ON DELETE CASCADE: every row and every link is still there after, and
    each row has its reader's country."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    settings = Settings(database_url=empty_database, secret_key=SECRET)
    migrate.upgrade(settings, revision="0006")
    officer, worker = uuid.uuid4(), uuid.uuid4()
    cases = [uuid.uuid4() for _ in range(3)]

    async def fill(conn: Any) -> None:
        from app.models import AccessLogCase, User

        stamp = datetime.now(UTC)
        for user_id, name, role, country in (
            (officer, "olga", "resettlement_officer", "CAN"),
            (worker, "wim", "caseworker", None),
        ):
            await conn.execute(
                insert(User).values(
                    id=user_id,
                    username=name,
                    password_hash="x",
                    role=role,
                    country=country,
                    active=True,
                    token_generation=0,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        log = text(
            "INSERT INTO access_log (id, at, user_id, role, action, filters) "
            "VALUES (:id, :at, :user, :role, 'view', NULL)"
        )
        for entry, user_id, role in (
            (1, officer, "resettlement_officer"),
            (2, worker, "caseworker"),
        ):
            user = user_id.hex if conn.dialect.name == "sqlite" else user_id
            at = stamp.replace(tzinfo=None) if conn.dialect.name == "sqlite" else stamp
            await conn.execute(log, {"id": entry, "at": at, "user": user, "role": role})
        links = [(1, cases[0]), (1, cases[1]), (2, cases[2])]
        for entry, case_id in links:
            await conn.execute(insert(AccessLogCase).values(access_log_id=entry, case_id=case_id))

    _run(empty_database, settings, fill)
    migrate.upgrade(settings)

    async def read(conn: Any) -> Any:
        entries = await conn.execute(text("SELECT id, country FROM access_log ORDER BY id"))
        links = await conn.execute(
            text("SELECT access_log_id, case_id FROM access_log_cases ORDER BY access_log_id")
        )
        return list(entries), sorted((e, str(uuid.UUID(str(c)))) for e, c in links)

    entries, links = _run(empty_database, settings, read)
    assert [tuple(row) for row in entries] == [(1, "CAN"), (2, None)]
    assert links == sorted((e, str(c)) for e, c in [(1, cases[0]), (1, cases[1]), (2, cases[2])])


def _snapshot(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as it stands, in primary-key order."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(conn)
    out = {}
    for name, table in meta.tables.items():
        order = list(table.primary_key.columns) or list(table.columns)
        rows = conn.execute(select(table).order_by(*order)).all()
        out[name] = [tuple(row) for row in rows]
    out["_columns"] = [(n, tuple(c.name for c in t.columns)) for n, t in meta.tables.items()]
    return out


#: Tables derived from the cases (app/services/funnel_rollup.py), which a migration may make
#: anew: compared by the counts they hold (``_funnel_counts``), not row by row.
DERIVED = frozenset({"funnel_rollup", "funnel_deltas"})
#: The migration that made the funnel's tables anew (with the cohort rows).
REMAKES_FUNNEL = "0010"
FUNNEL_KEY = "resettlement_country, transit_country, grain, day, stage, origin_country"


def _funnel_counts(conn: Connection) -> list[tuple[Any, ...]]:
    """The funnel's day and month counts (folded and not yet folded) by key, of each origin
    (0010 added rows for any origin)."""
    rows = conn.exec_driver_sql(
        f"SELECT {FUNNEL_KEY}, sum(cases), sum(people) FROM ("
        f"SELECT {FUNNEL_KEY}, cases, people FROM funnel_rollup UNION ALL "
        f"SELECT {FUNNEL_KEY}, cases, people FROM funnel_deltas) c "
        f"WHERE grain IN ('d', 'm') AND origin_country <> '*' GROUP BY {FUNNEL_KEY} "
        "HAVING sum(cases) <> 0 OR sum(people) <> 0 "
        f"ORDER BY {FUNNEL_KEY}"
    )
    return [tuple(str(value) for value in row) for row in rows]


def _old_columns(conn: Connection, before: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows now, of the tables and columns that existed before, in the same order."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(conn)
    out = {}
    for name, columns in before["_columns"]:
        if name in DERIVED:
            continue
        table = meta.tables[name]
        order = list(table.primary_key.columns) or [table.c[c] for c in columns]
        rows = conn.execute(select(*(table.c[c] for c in columns)).order_by(*order)).all()
        out[name] = [tuple(row) for row in rows]
    return out


def _member_ids_and_splits_hold(conn: Connection) -> None:
    from sqlalchemy import text

    members = conn.execute(
        text(
            "SELECT m.id, m.case_id, m.identified_at, m.first_submitted_at, "
            "m.transit_entered_at, m.resettled_at, c.identified_at, c.first_submitted_at, "
            "c.transit_entered_at, c.resettled_at FROM members m JOIN cases c ON c.id = m.case_id "
            "ORDER BY m.case_id, m.position"
        )
    ).all()
    ids = [row[0] for row in members]
    assert all(ids) and len(set(ids)) == len(ids) > 3000
    for row in members:  # every member reached each stage with its case
        assert tuple(row[2:6]) == tuple(row[6:10])
    by_case: dict[Any, list[str]] = {}
    for row in members:
        by_case.setdefault(row[1], []).append(str(uuid.UUID(str(row[0]))))
    submissions = conn.execute(
        text("SELECT case_id, status, accepted_members, split FROM submissions")
    ).all()
    accepted = 0
    for case_id, status, accepted_members, split in submissions:
        assert not split
        if status == "accepted":
            accepted += 1
            value = accepted_members if isinstance(accepted_members, list) else None
            if value is None:
                import json

                value = json.loads(accepted_members)
            assert value == by_case[case_id]
        else:
            assert accepted_members is None
    assert accepted > 100
    assert (
        conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE split_from IS NOT NULL OR split_into IS NOT NULL"
            )
        ).scalar_one()
        == 0
    )


def _no_questions_or_checklists_yet(conn: Connection) -> None:
    """0006's new tables start empty: questions and checklists come with later actions."""
    for table in ("information_requests", "departure_requirements"):
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 0


def _no_webhooks_yet(conn: Connection) -> None:
    """0007's endpoints and outbox start empty: an admin subscribes later, and no message is
    made for the events written before."""
    for table in ("webhook_endpoints", "webhook_messages"):
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 0


def _chains_verify(conn: Connection) -> None:
    """0008: every case's chain computed for the history already there (``pta audit
    verify`` passes), the readers' countries from the users, nothing held or erased, no seal."""
    from sqlalchemy import text

    from tests.live_server import run_pta

    url = conn.engine.url.render_as_string(hide_password=False)
    verified = run_pta(url, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    assert verified.stdout.startswith("ok: 1,"), verified.stdout  # over a thousand cases
    assert "0 seals" in verified.stdout and "0 of them erased" in verified.stdout
    for query in (
        "SELECT count(*) FROM case_events WHERE hash IS NULL OR payload_digest IS NOT NULL",
        "SELECT count(*) FROM cases WHERE legal_hold OR erased_at IS NOT NULL",
        "SELECT count(*) FROM access_log a JOIN users u ON u.id = a.user_id "
        "WHERE a.country IS DISTINCT FROM u.country"
        if conn.dialect.name == "postgresql"
        else "SELECT count(*) FROM access_log a JOIN users u ON u.id = a.user_id "
        "WHERE a.country IS NOT u.country",
        "SELECT count(*) FROM seals",
    ):
        assert conn.execute(text(query)).scalar_one() == 0, query


def _member_keys_filled(conn: Connection) -> None:
    """0009 gave every member its keys, as the service writes them, and (SQLite) its row in
    the full-text index."""
    from sqlalchemy import text

    from app.services.names import member_keys

    members = conn.execute(
        text(
            "SELECT m.case_id, m.id, m.given_name, m.family_name, m.date_of_birth, "
            "m.document_number, k.words, k.document, k.name_head, k.name_ends, k.name_tail, "
            "k.names "
            "FROM members m LEFT JOIN member_keys k ON k.member_id = m.id"
        )
    ).all()
    assert len(members) > 3000
    assert conn.exec_driver_sql("SELECT count(*) FROM member_keys").scalar_one() == len(members)
    for row in members:
        born = row[4] if not isinstance(row[4], str) else date.fromisoformat(row[4])
        expected = member_keys(row[2], row[3], born, row[5])
        words = (
            row[6]
            if conn.dialect.name == "sqlite"
            else " ".join(lexeme.strip("'") for lexeme in str(row[6]).split())
        )
        assert (words, *row[7:12]) == (
            expected.words,
            expected.document,
            expected.name_head,
            expected.name_ends,
            expected.name_tail,
            expected.names,
        ), row[1]
    if conn.dialect.name == "sqlite":  # the full-text index holds exactly the keys' rows
        conn.exec_driver_sql("INSERT INTO member_words (member_words) VALUES ('integrity-check')")
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM member_keys k WHERE k.rowid IN "
            "(SELECT rowid FROM member_words WHERE member_words MATCH "
            "'\"' || substr(k.words, 1, instr(k.words || ' ', ' ') - 1) || '\"')"
        )
        assert found.scalar_one() == len(members)


def _cohort_rows_as_the_service_builds_them(conn: Connection) -> None:
    """0010's rollup, cohort rows included, is what the service's own rebuild makes (which
    tests/test_funnel_rollup.py holds equal to a recount)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from app.db import SqlaDb
    from app.services import funnel_rollup

    def rollup() -> list[tuple[Any, ...]]:
        rows = conn.exec_driver_sql("SELECT * FROM funnel_rollup ORDER BY 1, 2, 3, 4, 5, 6, 7, 8")
        return [tuple(str(value) for value in row) for row in rows]

    migrated = rollup()
    assert conn.exec_driver_sql("SELECT count(*) FROM funnel_deltas").scalar_one() == 0
    assert any(row[2] == "c" for row in migrated)
    conn.rollback()  # the rebuild below writes from a connection of its own
    url = conn.engine.url.render_as_string(hide_password=False)

    async def rebuild() -> None:
        engine = make_engine(url, Settings(database_url=url, secret_key=SECRET), pool_size=1)
        try:
            async with engine.begin() as other:
                await funnel_rollup.rebuild(SqlaDb(other))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, rebuild()).result()
    assert rollup() == migrated


#: What each migration's new columns hold once it upgraded the demo data, by revision. The
#: test takes the demo data back to before the oldest of them and upgrades it to head.
NEW_COLUMNS_HOLD: dict[str, Any] = {
    "0005": _member_ids_and_splits_hold,
    "0006": _no_questions_or_checklists_yet,
    "0007": _no_webhooks_yet,
    "0008": _chains_verify,
    "0009": _member_keys_filled,
    "0010": _cohort_rows_as_the_service_builds_them,
}


@pytest.mark.slow
@pytest.mark.reliability
def test_the_new_migrations_keep_every_row_of_the_demo_data(empty_database: str) -> None:
    """The demo data set (loaded at head), taken back to the revision before the oldest
    migration of ``NEW_COLUMNS_HOLD`` and the newest, then upgraded to head again: every row
    of every table is still there, unchanged in every old column, and the new columns hold
    what each migration promised."""

    from alembic.script import ScriptDirectory

    settings = Settings(database_url=empty_database, secret_key=SECRET)
    script = ScriptDirectory.from_config(migrate.alembic_config(settings))
    head = script.get_current_head()
    assert head is not None
    order = [revision.revision for revision in script.walk_revisions()][::-1]  # oldest first
    oldest = min([head, *NEW_COLUMNS_HOLD], key=order.index)
    previous = script.get_revision(oldest).down_revision
    assert isinstance(previous, str)
    migrate.upgrade(settings)
    env = {**os.environ, "PTA_DATABASE_URL": empty_database, "PTA_SECRET_KEY": SECRET}
    env.pop("PTA_DEPARTURE_REQUIREMENTS", None)  # the default checklist
    loaded = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    migrate.downgrade(settings, revision=previous)
    before = _inspect(empty_database, settings, _snapshot)
    assert len(before["cases"]) > 1000 and len(before["members"]) > 3000
    assert before["case_events"]
    migrate.upgrade(settings)
    after = _inspect(empty_database, settings, lambda conn: _old_columns(conn, before))
    assert after.pop("alembic_version") == [(head,)] != before["alembic_version"]
    for name, rows in after.items():
        assert rows == before[name], f"{name}: rows changed or lost"
    for check in NEW_COLUMNS_HOLD.values():
        _inspect(empty_database, settings, check)
    # The funnel's tables, remade by REMAKES_FUNNEL, count what they counted before it, from
    # the revision just before it (back past 0005, members take their cases' dates again)
    remade_after = script.get_revision(REMAKES_FUNNEL).down_revision
    assert isinstance(remade_after, str)
    migrate.downgrade(settings, revision=remade_after)
    counted = _inspect(empty_database, settings, _funnel_counts)
    assert len(counted) > 1000
    migrate.upgrade(settings)
    assert _inspect(empty_database, settings, _funnel_counts) == counted, "funnel counts moved"
