"""Retention (domain.md): cases resettled or closed more than PTA_RETENTION_DAYS days ago and
not on legal hold are erased — exactly the contract's list, one transaction per case — while
every funnel and transit figure stays the same and the chains still verify; a dry run
changes nothing; a legal hold or a reopening keeps a case; a second run erases nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.models import Case, CaseEvent, Member, MemberKey, Submission, TransitStay
from app.services import retention, seals, verify
from tests.common import assert_problem, make_cast
from tests.factories import Factory, member
from tests.lifecycle_helpers import (
    ACCEPT,
    AUTHORISE_CRI,
    CLOSE,
    DENY,
    IN_TRANSIT,
    REOPEN,
    Driver,
    backdate,
    submission,
    today,
)
from tests.live_server import run_pta

API = "/api/v1"
DAYS = 3650
LONG_AGO = today() - timedelta(days=DAYS + 1)  # more than DAYS days before today
NOT_YET = today() - timedelta(days=DAYS)  # exactly DAYS days: kept
#: A life with a state's denial and reason, a transit note, and an arrival.
RESETTLED = [
    *IN_TRANSIT[:3],
    DENY,
    ("boss", "resubmit", submission("CAN")),
    ("worker", "request_transit", {"transit_country": "CRI"}),
    AUTHORISE_CRI,
    ("cri", "record_transit_entry", {"entered_at": "<today>"}),
    ("can", "decide", {"decision": "accepted"}),
    ("worker", "record_departure", {"departed_at": "<today>"}),
    ("can", "confirm_arrival", {"arrived_at": "<today>"}),
]


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)


async def figures(drive: Driver) -> list[Any]:
    """Every figure a manager and an officer read: the funnel (both bases, grouped) and the
    transit report."""
    out = []
    for user in (drive.cast.manager, drive.cast.can):
        for query in (
            "",
            "?group_by=year",
            "?group_by=resettlement_country",
            "?basis=cohort&group_by=origin_country",
        ):
            if user is drive.cast.can and "origin" in query:
                continue
            answer = await drive.client.get(f"{API}/reports/funnel{query}", headers=user.headers)
            assert answer.status_code == 200, answer.text
            out.append(answer.json())
    transit = await drive.client.get(f"{API}/reports/transit", headers=drive.cast.boss.headers)
    out.append(transit.json())
    return out


async def snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    tables = (Case, Member, Submission, TransitStay, CaseEvent)
    out = {}
    async with engine.connect() as conn:
        for model in tables:
            rows = (await conn.execute(select(model.__table__))).all()
            out[model.__tablename__] = sorted(map(repr, rows))
    return out


async def cases_to_erase(drive: Driver, engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    d = drive
    documented = [
        member(document_number="A1234567"),
        member(is_principal=False, given_name="Luis", date_of_birth="2015-06-01"),
    ]
    built = {
        "resettled": await d.run(await d.new_case(members=documented), RESETTLED),
        "closed": await d.run(
            await d.new_case(), [*IN_TRANSIT, ("boss", "close", {"reason": "other", "note": "x"})]
        ),
        "closed, on hold": await d.run(await d.new_case(), [CLOSE]),
        "closed, reopened": await d.run(await d.new_case(), [CLOSE]),
        "resettled lately": await d.run(await d.new_case(), RESETTLED),
        "closed just in time": await d.run(await d.new_case(), [CLOSE]),
        "live": await d.run(await d.new_case(), [*IN_TRANSIT, ACCEPT]),
    }
    await backdate(engine, built["resettled"]["id"], resettled_at=LONG_AGO)
    for name in ("closed", "closed, on hold", "closed, reopened"):
        await backdate(engine, built[name]["id"], closed_at=at_midnight(LONG_AGO))
    await backdate(engine, built["closed just in time"]["id"], closed_at=at_midnight(NOT_YET))
    reopened = built["closed, reopened"]
    await d.run({"id": reopened["id"], "version": reopened["version"]}, [REOPEN])
    return {name: await d.get(case["id"]) for name, case in built.items()}


async def test_erasure_follows_the_contract_and_changes_no_figure(
    drive: Driver, engine: AsyncEngine
) -> None:
    c = drive.cast
    cases = await cases_to_erase(drive, engine)
    held = cases["closed, on hold"]
    hold = await drive.act(c.boss, held, "set_legal_hold", hold=True, reason="Court order")
    assert hold["legal_hold"] is True
    await seals.seal(engine, datetime.now(UTC))
    before, rows_before = await figures(drive), await snapshot(engine)
    hashes = {
        name: [e["hash"] for e in await drive.events(case["id"])] for name, case in cases.items()
    }

    for name in ("resettled", "closed"):  # found by its members' names and documents first
        for person in cases[name]["members"]:
            for q in searches_for(person):
                assert await found_by(drive, cases[name], q), q

    dry = await retention.apply(engine, today(), DAYS, dry_run=True)
    due = {cases["resettled"]["reference"], cases["closed"]["reference"]}
    assert set(dry.references) == due and dry.erased == 0
    assert await snapshot(engine) == rows_before, "a dry run changes nothing"

    done = await retention.apply(engine, today(), DAYS, dry_run=False)
    assert (done.erased, set(done.references)) == (2, due)
    assert await figures(drive) == before, "every funnel and transit figure is the same"
    for name, case in cases.items():
        after = await drive.get(case["id"])
        if name in ("resettled", "closed"):
            await erased_as_the_contract_says(drive, engine, case, after, hashes[name])
        else:
            assert after["erased_at"] is None and after["members"] == case["members"], name
    report = await verify.verify(engine)
    assert report.broken is None and report.erased_events > 10, report
    again = await retention.apply(engine, today(), DAYS, dry_run=False)
    assert again.erased == 0, "idempotent"

    lifted = await drive.act(
        c.boss, await drive.get(held["id"]), "set_legal_hold", hold=False, reason="Lifted"
    )
    assert lifted["legal_hold"] is False
    later = await retention.apply(engine, today(), DAYS, dry_run=False)
    assert later.references == [held["reference"]]
    erased = await drive.get(cases["resettled"]["id"])
    edited = await drive.patch(
        c.worker, erased["id"], erased["version"], processing_priority="normal"
    )
    assert edited.status_code == 200, "an erased case stays editable"
    assert (await verify.verify(engine)).broken is None


def searches_for(member: dict[str, Any]) -> list[str]:
    names = f"{member['given_name']} {member['family_name']}"
    return [names, member["document_number"]] if member["document_number"] else [names]


async def found_by(drive: Driver, case: dict[str, Any], q: str) -> bool:
    """Whether a caseworker's search ``q`` lists the case (the test's few cases: one page)."""
    found = await drive.client.get(
        "/api/v1/cases", params={"q": q, "limit": 200}, headers=drive.cast.worker.headers
    )
    assert found.status_code == 200, found.text
    return case["id"] in {item["id"] for item in found.json()["items"]}


async def erased_as_the_contract_says(
    drive: Driver,
    engine: AsyncEngine,
    case: dict[str, Any],
    after: dict[str, Any],
    hashes: list[str],
) -> None:
    assert after["erased_at"] is not None and after["version"] == case["version"] + 1
    assert after["referral_source"] is None and after["protection_summary"] is None
    for old, new in zip(case["members"], after["members"], strict=True):
        assert new["given_name"] == new["family_name"] == "[erased]"
        assert new["date_of_birth"] == f"{old['date_of_birth'][:4]}-01-01"
        assert new["dob_estimated"] is True and new["document_number"] is None
        kept = ("id", "sex", "nationality", "relationship", "is_principal")
        assert {k: new[k] for k in kept} == {k: old[k] for k in kept}
    for name in ("reference", "origin_country", "pathway", "status", "identified_at"):
        assert after[name] == case[name]
    for name in ("resettled_at", "closed_at", "closure_reason", "first_submitted_at"):
        assert after[name] == case[name]
    for old, new in zip(case["submissions"], after["submissions"], strict=True):
        assert new["decision_reason"] is None
        assert {**new, "decision_reason": None} == {**old, "decision_reason": None}
    for new in after["transit_stays"]:
        assert new["authorisation_note"] is None and new["refusal_reason"] is None
    for old in case["members"]:  # search (and so possible duplicates) no longer finds them
        for q in searches_for(old):
            assert not await found_by(drive, case, q), q
    async with engine.connect() as conn:
        keys = await conn.execute(
            select(func.count())
            .select_from(MemberKey)
            .where(MemberKey.case_id == uuid.UUID(case["id"]))
        )
        assert keys.scalar_one() == 0, "the members' search keys go with their names"
    events = await drive.events(case["id"])
    assert events and all(event["payload"] == {"erased": True} for event in events)
    assert [e["hash"] for e in events] == hashes, "erasure keeps the chain"
    async with engine.connect() as conn:
        digests = await conn.execute(
            select(CaseEvent.payload_digest).where(CaseEvent.case_id == uuid.UUID(case["id"]))
        )
        assert all(digests.scalars()), "the digest of what was erased is kept"


async def test_set_legal_hold_needs_a_reason_and_a_supervisor(drive: Driver) -> None:
    c = drive.cast
    case = await drive.new_case()
    path = f"{API}/cases/{case['id']}/transitions"
    headers = {**c.boss.headers, "If-Match": f'"{case["version"]}"'}
    for body in ({"hold": True}, {"hold": True, "reason": ""}, {"reason": "x"}):
        answer = await drive.client.post(
            path, json={"action": "set_legal_hold", **body}, headers=headers
        )
        assert_problem(answer, 422, "validation_error")
    worker = {**c.worker.headers, "If-Match": f'"{case["version"]}"'}
    answer = await drive.client.post(
        path, json={"action": "set_legal_hold", "hold": True, "reason": "x"}, headers=worker
    )
    assert_problem(answer, 403, "forbidden")
    held = await drive.act(c.boss, case, "set_legal_hold", hold=True, reason="Court order")
    assert held["legal_hold"] is True and held["status"] == "identified"
    (event,) = [e for e in await drive.events(case["id"]) if e["action"] == "set_legal_hold"]
    assert event["payload"] == {"hold": True, "reason": "Court order"}
    assert (await drive.get(case["id"], c.worker))["legal_hold"] is True
    submitted = await drive.run(held, [*IN_TRANSIT[:3]])
    officer = await drive.get(submitted["id"], c.usa)
    assert "legal_hold" not in officer and "erased_at" not in officer


async def test_dry_run_on_the_command_line(
    drive: Driver, engine: AsyncEngine, migrated: Settings
) -> None:
    cases = await cases_to_erase(drive, engine)
    rows_before = await snapshot(engine)
    env = {"PTA_RETENTION_DAYS": str(DAYS)}
    dry = run_pta(migrated.database_url, "retention", "apply", "--dry-run", extra_env=env)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == "would erase 3 cases"
    names = ("resettled", "closed", "closed, on hold")
    assert sorted(lines[1:]) == sorted(cases[name]["reference"] for name in names)
    assert await snapshot(engine) == rows_before
    done = run_pta(migrated.database_url, "retention", "apply", extra_env=env)
    assert done.returncode == 0 and done.stdout.strip() == "erased 3 cases", done.stderr
    for line in done.stderr.splitlines():
        assert "Ana" not in line and "PTA-" not in line, line  # counts only
