"""Tamper-evident history and access log (domain.md): every event's hash follows the
contract's definition (recomputed here from the contract's words, not from the service's
code), seals are made only when something is new and chain to each other, and
``pta audit verify`` names the first broken item when the tables are changed behind the
service's back — an event's payload altered, an event removed or inserted, a case's latest
events removed, a sealed access-log row altered or removed, a seal altered."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import chain
from app.config import Settings
from app.services import seals, verify
from tests.common import Cast, make_cast
from tests.factories import Factory
from tests.lifecycle_helpers import IN_TRANSIT, Driver
from tests.live_server import run_pta

API = "/api/v1"
ZEROS = "0" * 64


def contract_hash(previous: str, event: dict[str, Any]) -> str:
    """domain.md: SHA-256 (hex) over the predecessor's hash and the event's content (id,
    case id, at, action, from/to status, user, role, and the SHA-256 of its payload), in the
    encoding the README gives (one field a line)."""
    payload = json.dumps(event["payload"], sort_keys=True, separators=(",", ":"))
    at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")).astimezone(UTC)
    fields = [
        previous,
        str(event["id"]),
        event["case_id"],
        at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        event["action"],
        event["from_status"] or "",
        event["to_status"],
        event["user_id"],
        event["role"],
        hashlib.sha256(payload.encode()).hexdigest(),
    ]
    return hashlib.sha256("\n".join(fields).encode()).hexdigest()


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


async def history(drive: Driver, cast: Cast) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two cases with a few events each, read by a caseworker and an officer."""
    first = await drive.run(await drive.new_case(), IN_TRANSIT)
    second = await drive.run(await drive.new_case(), [("worker", "start_assessment", {})])
    for user in (cast.worker, cast.usa):
        await drive.client.get(f"{API}/cases/{first['id']}", headers=user.headers)
    await drive.client.get(f"{API}/cases?limit=5", headers=cast.worker.headers)
    return first, second


async def check(engine: AsyncEngine) -> verify.Report:
    return await verify.verify(engine)


async def broken_item(engine: AsyncEngine) -> str:
    """What verify names as the first broken item (it must name one)."""
    broken = (await check(engine)).broken
    assert broken is not None, "verify found nothing"
    return broken


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


def uuid_param(engine: AsyncEngine, value: str) -> Any:
    """A UUID as the database stores it in a hand-written statement."""
    return uuid.UUID(value).hex if engine.dialect.name == "sqlite" else uuid.UUID(value)


async def test_every_event_carries_the_contracts_hash(drive: Driver, engine: AsyncEngine) -> None:
    first, second = await history(drive, drive.cast)
    for case in (first, second):
        events = await drive.events(case["id"])
        previous = ZEROS
        for event in events:
            assert event["hash"] == contract_hash(previous, {**event, "case_id": case["id"]})
            previous = event["hash"]
        assert len(events) > 1
    report = await check(engine)
    assert report.broken is None
    assert (report.cases, report.seals, report.sealed_rows) == (2, 0, 0)
    assert report.unsealed_events == report.events > 8
    assert report.unsealed_rows >= 4


async def test_a_seal_covers_what_is_new_and_chains_to_the_previous(
    drive: Driver, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    assert await seals.seal(engine, now) is None, "nothing at all: no seal"
    first, _ = await history(drive, drive.cast)
    one = await seals.seal(engine, now)
    assert one is not None and one["prev"] == ZEROS and len(one["root"]) == 64
    assert one["first_id"] == 1 and one["count"] >= 4 and one["last_event_id"] > 0
    assert await seals.seal(engine, now) is None, "nothing new: no seal"
    await drive.client.get(f"{API}/cases/{first['id']}", headers=drive.cast.boss.headers)
    two = await seals.seal(engine, now)
    assert two is not None and two["prev"] == one["root"]
    assert (two["first_id"], two["count"]) == (one["last_id"] + 1, 1)
    assert two["last_event_id"] == one["last_event_id"], "a read is no event"
    closed = await drive.post(
        drive.cast.boss, first["id"], "close", first["version"], reason="other"
    )
    assert closed.status_code == 200, closed.text  # a write; its answer is no read
    three = await seals.seal(engine, now)
    assert three is not None and three["count"] == 0 and three["last_id"] == two["last_id"]
    assert three["last_event_id"] > two["last_event_id"]
    report = await check(engine)
    assert report.broken is None, report.broken
    assert (report.seals, report.unsealed_events, report.unsealed_rows) == (3, 0, 0)
    assert report.sealed_rows == one["count"] + 1


async def test_seals_for_outside_copies(drive: Driver, engine: AsyncEngine) -> None:
    cast = drive.cast
    await history(drive, cast)
    made = []
    for _ in range(3):
        await drive.client.get(f"{API}/cases?limit=1", headers=cast.worker.headers)
        sealed = await seals.seal(engine, datetime.now(UTC))
        assert sealed is not None
        made.append(sealed)
    for user in (cast.boss, cast.admin):
        page = await drive.client.get(f"{API}/audit/seals?limit=2", headers=user.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert [item["id"] for item in body["items"]] == [made[2]["id"], made[1]["id"]]
        assert set(body["items"][0]) == {"id", "at", "first_id", "last_id", "count", "root", "prev"}
        assert body["items"][0]["prev"] == body["items"][1]["root"]
        rest = await drive.client.get(
            f"{API}/audit/seals?limit=2&cursor={body['next_cursor']}", headers=user.headers
        )
        assert [item["id"] for item in rest.json()["items"]] == [made[0]["id"]]
        assert rest.json()["next_cursor"] is None
    for user in (cast.worker, cast.usa, cast.cri, cast.manager):
        refused = await drive.client.get(f"{API}/audit/seals", headers=user.headers)
        assert refused.status_code == 403, user.role


# Tampering ---------------------------------------------------------------------------------
async def sealed_history(drive: Driver, engine: AsyncEngine) -> tuple[Any, Any, list[Any]]:
    first, second = await history(drive, drive.cast)
    assert await seals.seal(engine, datetime.now(UTC)) is not None
    events = await drive.events(first["id"])
    assert (await check(engine)).broken is None
    return first, second, events


async def test_an_altered_payload_is_named(drive: Driver, engine: AsyncEngine) -> None:
    first, _, events = await sealed_history(drive, engine)
    target = events[3]
    await sql(
        engine,
        "UPDATE case_events SET payload = :p WHERE id = :i",
        p=json.dumps({"resettlement_country": "CAN"}),
        i=target["id"],
    )
    broken = await broken_item(engine)
    assert broken.startswith(f"case {first['id']} event {target['id']}:")


async def test_an_event_removed_from_the_middle_is_named(
    drive: Driver, engine: AsyncEngine
) -> None:
    first, _, events = await sealed_history(drive, engine)
    await sql(engine, "DELETE FROM case_events WHERE id = :i", i=events[2]["id"])
    broken = await broken_item(engine)
    assert broken.startswith(f"case {first['id']} event {events[3]['id']}:")


async def test_an_event_inserted_into_a_chain_is_named(
    drive: Driver, engine: AsyncEngine, make: Factory
) -> None:
    """A forged event with a well-made hash, put between two events of a case (in the id
    left by a case deleted before the seal): the next event no longer follows."""
    cast = drive.cast
    case = await drive.new_case()
    gone = await drive.new_case()
    case = await drive.run(case, [("worker", "start_assessment", {})])
    await sql(engine, "DELETE FROM cases WHERE id = :i", i=uuid_param(engine, gone["id"]))
    assert await seals.seal(engine, datetime.now(UTC)) is not None
    first, second = await drive.events(case["id"])
    forged_id = first["id"] + 1
    assert forged_id < second["id"]
    forged = {
        "id": forged_id,
        "case_id": uuid.UUID(case["id"]),
        "at": datetime.now(UTC),
        "action": "request_review",
        "from_status": "identified",
        "to_status": "pending_review",
        "user_id": cast.boss.id,
        "role": "supervisor",
        "payload": {},
        "payload_digest": None,
    }
    forged_hash = chain.hash_of_row(forged, first["hash"])
    await sql(
        engine,
        "INSERT INTO case_events (id, case_id, at, action, from_status, to_status, user_id, "
        "role, payload, hash) VALUES (:id, :case_id, :at, :action, :from_status, :to_status, "
        ":user_id, :role, :payload, :hash)",
        **{
            **forged,
            "case_id": uuid_param(engine, case["id"]),
            "user_id": uuid_param(engine, str(cast.boss.id)),
            "at": forged["at"].replace(tzinfo=None)
            if engine.dialect.name == "sqlite"
            else forged["at"],
            "payload": "{}",
            "hash": forged_hash,
        },
    )
    broken = await broken_item(engine)
    assert broken.startswith(f"case {case['id']} event {forged_id}: inserted"), broken


async def test_a_forged_event_appended_without_the_chain_is_named(
    drive: Driver, engine: AsyncEngine
) -> None:
    first, _, events = await sealed_history(drive, engine)
    last = events[-1]
    await sql(
        engine,
        "INSERT INTO case_events (case_id, at, action, from_status, to_status, user_id, role, "
        "payload, hash) SELECT case_id, at, 'confirm_arrival', to_status, 'resettled', user_id, "
        "role, payload, hash FROM case_events WHERE id = :i",
        i=last["id"],
    )
    ((forged_id,),) = await sql(engine, "SELECT max(id) FROM case_events")
    assert forged_id > last["id"]
    broken = await broken_item(engine)
    assert broken.startswith(f"case {first['id']} event {forged_id}:")


async def test_a_cases_latest_events_removed_up_to_the_seal_are_found(
    drive: Driver, engine: AsyncEngine
) -> None:
    """What is left of the chain still follows; the seal that saw the removed head fails."""
    first, _, events = await sealed_history(drive, engine)
    await sql(
        engine,
        "DELETE FROM case_events WHERE id >= :i AND case_id = :c",
        i=events[-2]["id"],
        c=uuid_param(engine, first["id"]),
    )
    (seal,) = await sql(engine, "SELECT id FROM seals")
    broken = await broken_item(engine)
    assert broken.startswith(f"seal {seal[0]}: its root"), broken


async def test_a_sealed_access_log_row_removed_is_named(drive: Driver, engine: AsyncEngine) -> None:
    await sealed_history(drive, engine)
    (seal,) = await sql(engine, "SELECT id, first_id, last_id FROM seals")
    await sql(engine, "DELETE FROM access_log WHERE id = (SELECT min(id) FROM access_log)")
    broken = await broken_item(engine)
    assert broken.startswith(f"seal {seal[0]}: it sealed"), broken
    assert f"ids {seal[1]}–{seal[2]}" in broken


async def test_a_sealed_access_log_row_altered_is_found(drive: Driver, engine: AsyncEngine) -> None:
    await sealed_history(drive, engine)
    (seal,) = await sql(engine, "SELECT id FROM seals")
    await sql(
        engine,
        "UPDATE access_log SET action = 'list' "
        "WHERE id = (SELECT max(id) FROM access_log WHERE action = 'view')",
    )
    broken = await broken_item(engine)
    assert broken.startswith(f"seal {seal[0]}: its root"), broken


async def test_an_altered_seal_is_named(drive: Driver, engine: AsyncEngine) -> None:
    await sealed_history(drive, engine)
    await drive.client.get(f"{API}/cases?limit=1", headers=drive.cast.worker.headers)
    assert await seals.seal(engine, datetime.now(UTC)) is not None
    first, second = [row[0] for row in await sql(engine, "SELECT id FROM seals ORDER BY id")]
    await sql(engine, "UPDATE seals SET root = :r WHERE id = :i", r="f" * 64, i=first)
    broken = await broken_item(engine)
    assert broken.startswith(f"seal {first}: its root"), broken
    await sql(
        engine,
        "UPDATE seals SET root = :r, prev = :p WHERE id = :i",
        r="f" * 64,
        p="e" * 64,
        i=second,
    )
    await sql(engine, "DELETE FROM seals WHERE id = :i", i=first)
    broken = await broken_item(engine)
    assert broken.startswith(f"seal {second}:"), broken


# The command --------------------------------------------------------------------------------
def pta(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pta(settings.database_url, *args)


async def test_pta_audit_seal_and_verify(
    drive: Driver, engine: AsyncEngine, migrated: Settings
) -> None:
    first, _ = await history(drive, drive.cast)
    sealed = pta(migrated, "audit", "seal")
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.startswith("seal ") and "root " in sealed.stdout
    assert pta(migrated, "audit", "seal").stdout.strip() == "nothing new to seal"
    ok = pta(migrated, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("ok: 2 cases (") and "1 seals over" in ok.stdout
    events = await drive.events(first["id"])
    await sql(engine, "UPDATE case_events SET action = 'reopen' WHERE id = :i", i=events[4]["id"])
    broken = pta(migrated, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"broken: case {first['id']} event {events[4]['id']}:")
    for line in broken.stderr.splitlines():  # log lines: counts and the result, no names
        assert "Ana" not in line and "Lopez" not in line
