"""``pta demo load``: the published figures, determinism, the demo users, refusal, --if-empty
and --force. The module loads the demo data once, with the real command in a subprocess, as
``make run`` does on first start; its tests read that one load (the --force test, which
replaces it, runs last) and the module empties the database when it is done."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.cli import build_parser
from app.config import Settings
from app.db import SqlaDb, make_engine
from app.demo import loader as demo
from app.demo import plan as demo_plan
from app.demo.plan import PUBLISHED, WINDOW_END, WINDOW_START, build_plan, standing
from app.demo.timeline import CasePlan
from app.models import (
    Base,
    Case,
    CaseEvent,
    DepartureRequirement,
    InformationRequest,
    Member,
    Submission,
    TransitStay,
    User,
)
from app.models.lifecycle import Snapshot, step_for
from app.services.policy import roles_for
from app.vocabulary import (
    Action,
    CaseStatus,
    ClosureReason,
    Pathway,
    RequirementItem,
    StayStatus,
    SubmissionStatus,
)

pytestmark = (
    pytest.mark.slow
)  # one full load: about half a minute on SQLite, a minute on PostgreSQL
ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
#: what a member is, for comparing a plan with what the database holds
MEMBER_FIELDS = (
    "given_name",
    "family_name",
    "sex",
    "date_of_birth",
    "dob_estimated",
    "nationality",
    "relationship",
    "document_number",
    "is_principal",
)
ALLOWED_ROLES = {action: {str(role) for role in roles_for(action)} for action in Action}
DEMO_USERS = {
    "demo_caseworker": ("caseworker", None),
    "demo_supervisor": ("supervisor", None),
    "demo_manager": ("manager", None),
    "demo_admin": ("admin", None),
    "demo_resettlement_officer_usa": ("resettlement_officer", "USA"),
    "demo_resettlement_officer_can": ("resettlement_officer", "CAN"),
    "demo_resettlement_officer_aus": ("resettlement_officer", "AUS"),
    "demo_resettlement_officer_bra": ("resettlement_officer", "BRA"),
    "demo_resettlement_officer_ury": ("resettlement_officer", "URY"),
    "demo_transit_officer_cri": ("transit_officer", "CRI"),
}


def pta(settings: Settings, *args: str, port: int = 8000) -> subprocess.CompletedProcess[str]:
    """The real ``pta`` command on the test database (``make run PORT=…`` sets PTA_PORT)."""
    env = {**os.environ, "PTA_DATABASE_URL": settings.database_url, "PTA_PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass
class FirstStart:
    result: subprocess.CompletedProcess[str]
    passwords: dict[str, str]
    today: date


async def _empty(settings: Settings) -> None:
    engine = make_engine(settings.database_url, settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def first_start(migrated: Settings) -> AsyncIterator[FirstStart]:
    """``pta demo load --if-empty`` on an empty database, as ``make run PORT=8123`` starts."""
    await _empty(migrated)
    today = datetime.now(UTC).date()
    result = pta(migrated, "demo", "load", "--if-empty", port=8123)
    passwords = dict(re.findall(r"^(demo_\w+)\s+\w+\s+\S+\s+(\S+)$", result.stdout, re.M))
    yield FirstStart(result, passwords, today)
    await _empty(migrated)


@pytest.fixture(scope="module")
async def conn(migrated: Settings) -> AsyncIterator[AsyncConnection]:
    """A read connection of the module's own (the shared ``engine`` fixture would empty the
    tables after each test)."""
    engine = make_engine(migrated.database_url, migrated, pool_size=1)
    async with engine.connect() as connection:
        yield connection
    await engine.dispose()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as client:
        yield client


@pytest.fixture(scope="module")
def plans(first_start: FirstStart) -> list[CasePlan]:
    return build_plan(demo.DEFAULT_SEED, first_start.today)


async def rows(conn: AsyncConnection, query: Any) -> list[Any]:
    result = (await conn.execute(query)).all()
    await conn.rollback()  # read the newest data next time
    return list(result)


# --- the first start ------------------------------------------------------------------------


def test_first_start_loads_and_prints_the_demo_users_once(first_start: FirstStart) -> None:
    result = first_start.result
    assert result.returncode == 0, result.stderr
    assert set(first_start.passwords) == set(DEMO_USERS)
    assert all(len(password) >= 12 for password in first_start.passwords.values())
    assert len(set(first_start.passwords.values())) == len(DEMO_USERS)
    assert "http://127.0.0.1:8123/docs" in result.stdout  # the URLs follow the port chosen
    assert "http://127.0.0.1:8123/dashboard" in result.stdout


async def test_published_figures_between_2016_01_01_and_2019_09_30(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    def people(column: Any) -> Any:
        within = column.between(WINDOW_START, WINDOW_END)
        return func.sum(case((within, Case.member_count), else_=0))

    ((identified, submitted, resettled),) = await rows(
        conn,
        select(
            people(Case.identified_at),
            people(Case.first_submitted_at),
            people(Case.resettled_at),
        ),
    )
    assert (identified, submitted, resettled) == (3757, 1746, 689)
    assert PUBLISHED == {"identified": 3757, "submitted": 1746, "resettled": 689}
    # People are the cases' members: the count kept on each case is the members it holds.
    ((members, counted),) = await rows(
        conn,
        select(
            select(func.count()).select_from(Member).scalar_subquery(),
            select(func.sum(Case.member_count)).scalar_subquery(),
        ),
    )
    assert members == counted


async def test_the_funnel_report_shows_the_published_figures(
    first_start: FirstStart, http: httpx.AsyncClient
) -> None:
    token = await sign_in(http, "demo_manager", first_start.passwords["demo_manager"])
    assert await funnel_people(http, token) == PUBLISHED


async def test_the_database_holds_exactly_the_plan_of_the_seed(
    first_start: FirstStart, conn: AsyncConnection, plans: list[CasePlan]
) -> None:
    """Cases, members, statuses, milestones and every action's moment, ids aside."""
    assert Counter(await database_fingerprint(conn)) == Counter(plan_fingerprint(plans))


def test_one_seed_gives_one_plan_and_another_seed_the_same_figures(
    first_start: FirstStart, plans: list[CasePlan]
) -> None:
    again = build_plan(demo.DEFAULT_SEED, first_start.today)
    assert plan_fingerprint(again) == plan_fingerprint(plans)
    other = build_plan(7, first_start.today)
    assert plan_fingerprint(other) != plan_fingerprint(plans)
    assert demo_plan.window_people(other, WINDOW_START, WINDOW_END) == PUBLISHED


def test_the_published_window_does_not_depend_on_the_day_of_the_load(
    first_start: FirstStart, plans: list[CasePlan]
) -> None:
    later = build_plan(demo.DEFAULT_SEED, first_start.today + timedelta(days=400))
    assert demo_plan.window_people(later, WINDOW_START, WINDOW_END) == PUBLISHED

    def window(found: list[CasePlan]) -> list[Any]:
        return [
            fp
            for plan in found
            if plan.identified_at <= WINDOW_END and plan.steps[-1].at.date() < date(2025, 1, 1)
            for fp in case_fingerprints(plan)
        ]

    assert window(later) == window(plans)


@pytest.mark.parametrize(
    ("seed", "today"),
    [
        (1, date(2026, 11, 27)),
        (5, date(2023, 3, 1)),
        (11, date(2022, 2, 28)),
        (2016, date(2031, 1, 6)),
    ],
)
def test_plans_of_other_seeds_and_days_take_only_available_actions(seed: int, today: date) -> None:
    """A cheap guard for the seeds and days the loader is not run with in this module: every
    planned action is available in the state machine at its turn and keeps the date rules."""
    plans = build_plan(seed, today)
    assert demo_plan.window_people(plans, WINDOW_START, WINDOW_END) == PUBLISHED
    for plan in plans:
        replay(plan, today)


# --- what the data looks like -----------------------------------------------------------------


async def test_households_are_plausible(first_start: FirstStart, conn: AsyncConnection) -> None:
    members = await rows(
        conn,
        select(
            Case.id,
            Case.identified_at,
            Case.origin_country,
            Member.is_principal,
            Member.relationship,
            Member.sex,
            Member.date_of_birth,
            Member.nationality,
            Member.given_name,
            Member.family_name,
            Member.document_number,
        )
        .join(Member, Member.case_id == Case.id)
        # a case made by a split keeps the members' relationships for UNHCR to correct
        .where(Case.split_from.is_(None)),
    )
    by_case: dict[Any, list[Any]] = {}
    for row in members:
        by_case.setdefault(row.id, []).append(row)
    sizes = Counter(len(people) for people in by_case.values())
    assert set(sizes) == set(range(1, 8))
    relationships = Counter(row.relationship for row in members)
    assert {"principal", "spouse", "partner", "child", "parent", "sibling"} <= set(relationships)
    assert relationships["principal"] == len(by_case)
    for people in by_case.values():
        principal = next(p for p in people if p.is_principal)
        assert principal.relationship == "principal"
        age = (principal.identified_at - principal.date_of_birth).days / 365.25
        assert 18 <= age <= 70
        for child in (p for p in people if p.relationship == "child"):
            assert child.date_of_birth > principal.date_of_birth + timedelta(days=15 * 365)
    assert {row.origin_country for row in members} == {"SLV", "HND", "GTM"}
    same = sum(row.nationality == row.origin_country for row in members)
    assert 0.9 < same / len(members) < 1
    assert {row.sex for row in members} >= {"female", "male"}
    documented = sum(row.document_number is not None for row in members)
    assert 0.2 < documented / len(members) < 0.6
    assert all(len(row.family_name.split()) >= 2 for row in members)  # two surnames


async def test_a_few_split_decisions_were_resolved_by_split_case(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    """Households accepted in part: each original keeps the accepted members (its split
    closed, ``split`` still true), and a new case in assessment holds the others."""
    new_cases = await rows(
        conn, select(Case.id, Case.split_from, Case.status).where(Case.split_from.is_not(None))
    )
    assert len(new_cases) == demo_plan.SPLITS
    for new_id, original_id, status in new_cases:
        assert status == "assessment"
        (split_into,) = (await rows(conn, select(Case.split_into).where(Case.id == original_id)))[0]
        assert split_into == [str(new_id)]
        latest = (
            await rows(
                conn,
                select(Submission.accepted_members, Submission.split)
                .where(Submission.case_id == original_id)
                .order_by(Submission.sequence.desc())
                .limit(1),
            )
        )[0]
        assert latest.split is True
        staying = {
            str(i)
            for (i,) in await rows(conn, select(Member.id).where(Member.case_id == original_id))
        }
        moved = {
            str(i) for (i,) in await rows(conn, select(Member.id).where(Member.case_id == new_id))
        }
        assert staying == set(latest.accepted_members) and moved and not moved & staying


async def test_people_registered_twice_are_found_by_possible_duplicates(
    first_start: FirstStart,
    conn: AsyncConnection,
    http: httpx.AsyncClient,
    plans: list[CasePlan],
) -> None:
    """A newcomer sees the feature work: each later case of a person registered before
    (plan.py REGISTERED_TWICE, printed by the load) lists the earlier case among its possible
    duplicates, for the reason planted — accents written differently, a typing slip, a
    document number written differently — and a search by the later name finds both."""
    token = await sign_in(http, "demo_caseworker", first_start.passwords["demo_caseworker"])
    headers = {"Authorization": f"Bearer {token}"}
    by_key = {plan.key: plan for plan in plans}
    twice = [plan for plan in plans if plan.registered_before is not None]
    assert sorted(reason for _, reason in map(registered_before, twice)) == sorted(
        demo_plan.REGISTERED_TWICE
    )
    for again in twice:
        key, reason = registered_before(again)
        earlier = by_key[key]
        (case_id, reference, member_id), (other_id, other_reference, other_member) = [
            await only_member(conn, plan) for plan in (again, earlier)
        ]
        assert reference in first_start.result.stdout
        response = await http.get(f"{API}/cases/{case_id}/possible-duplicates", headers=headers)
        assert response.status_code == 200, response.text
        assert {
            "case_id": str(other_id),
            "reference": other_reference,
            "member_id": str(member_id),
            "other_member_id": str(other_member),
            "reason": reason,
        } in response.json()["items"], (reason, again.members[0], earlier.members[0])
        named = f"{again.members[0]['given_name']} {again.members[0]['family_name']}"
        response = await http.get(f"{API}/cases", params={"q": named}, headers=headers)
        found = {item["id"] for item in response.json()["items"]}
        assert str(case_id) in found
        assert (str(other_id) in found) == (reason != "similar_name_and_birth_year"), named


def registered_before(plan: CasePlan) -> tuple[str, str]:
    assert plan.registered_before is not None
    return plan.registered_before


async def only_member(conn: AsyncConnection, plan: CasePlan) -> tuple[Any, str, Any]:
    """(case id, reference, member id) of a planned case of one person."""
    person = plan.members[0]
    (found,) = await rows(
        conn,
        select(Case.id, Case.reference, Member.id)
        .join(Member, Member.case_id == Case.id)
        .where(
            Case.identified_at == plan.identified_at,
            Case.member_count == 1,
            Member.given_name == person["given_name"],
            Member.family_name == person["family_name"],
            Member.date_of_birth == person["date_of_birth"],
        ),
    )
    return tuple(found)


async def test_the_pipeline_holds_every_situation(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    today = first_start.today
    statuses = Counter(status for (status,) in await rows(conn, select(Case.status)))
    for status in CaseStatus:
        assert statuses[status] > 0, status
    reasons = {
        reason
        for (reason,) in await rows(
            conn, select(CaseEvent.payload).where(CaseEvent.action == "close")
        )
        for reason in [reason["reason"]]
    }
    assert reasons == {str(reason) for reason in ClosureReason}
    pathways = Counter(p for (p,) in await rows(conn, select(Case.pathway)))
    assert pathways["transit"] > 3 * pathways["in_country"] > 0
    stays = await rows(
        conn,
        select(TransitStay.transit_country, TransitStay.status, TransitStay.authorised_until),
    )
    assert {s.transit_country for s in stays} == {"CRI"}
    open_stays = [s for s in stays if s.status == "in_transit"]
    assert any(today <= s.authorised_until <= today + timedelta(days=30) for s in open_stays)
    assert any(s.authorised_until < today for s in open_stays)  # overstays
    submissions = await rows(
        conn,
        select(
            Submission.case_id,
            Submission.sequence,
            Submission.resettlement_country,
            Submission.status,
        ).order_by(Submission.case_id, Submission.sequence),
    )
    assert {s.resettlement_country for s in submissions} == {"USA", "CAN", "AUS", "BRA", "URY"}
    assert {"pending", "on_hold", "accepted", "denied", "withdrawn"} <= {
        s.status for s in submissions
    }
    denied_then_elsewhere = [
        (a, b)
        for a, b in pairwise(submissions)
        if a.case_id == b.case_id
        and a.status == "denied"
        and b.resettlement_country != a.resettlement_country
    ]
    assert denied_then_elsewhere
    actions = Counter(a for (a,) in await rows(conn, select(CaseEvent.action)))
    for action in (
        "extend_transit",
        "withdraw_submission",
        "return_to_assessment",
        "reopen",
        "refuse_transit",
        "resubmit",
    ):
        assert actions[action] > 0, action


async def test_requests_for_information_and_checklists_look_real(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    """Some states asked questions (answered, mostly); every departed household's checklist
    was complete, with done dates between the acceptance and the departure; a handful of
    households still waiting today have an item past its due date."""
    today = first_start.today
    questions = await rows(
        conn, select(InformationRequest.question, InformationRequest.answered_at)
    )
    assert len(questions) >= 20
    assert sum(q.answered_at is not None for q in questions) >= len(questions) - 5
    checklist = await rows(
        conn,
        select(
            DepartureRequirement.case_id,
            DepartureRequirement.status,
            DepartureRequirement.due_on,
            DepartureRequirement.done_on,
            Submission.decided_at,
            Submission.status.label("submission"),
            Case.departed_at,
        )
        .join(Submission, Submission.id == DepartureRequirement.submission_id)
        .join(Case, Case.id == DepartureRequirement.case_id),
    )
    departed = [r for r in checklist if r.departed_at is not None]
    assert departed and all(r.status in ("done", "waived") for r in departed)
    for r in departed:
        if r.done_on is not None:
            assert r.decided_at.date() < r.done_on <= r.departed_at
    overdue = {
        r.case_id
        for r in checklist
        if r.submission == "accepted"
        and r.status == "pending"
        and r.due_on is not None
        and r.due_on < today
    }
    assert 1 <= len(overdue) <= 60, len(overdue)


async def test_dates_run_from_july_2016_to_yesterday_in_order(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    today = first_start.today
    cases = await rows(
        conn,
        select(
            Case.identified_at,
            Case.first_submitted_at,
            Case.transit_entered_at,
            Case.departed_at,
            Case.resettled_at,
        ),
    )
    assert min(c.identified_at for c in cases) >= date(2016, 7, 1)
    for dates in cases:
        known = [d for d in dates if d is not None]
        assert known == sorted(known) and known[-1] < today
    ((latest,),) = await rows(conn, select(func.max(CaseEvent.at)))
    assert latest.date() < today


async def test_actions_were_taken_by_the_right_demo_users(
    first_start: FirstStart, conn: AsyncConnection
) -> None:
    events = await rows(
        conn,
        select(
            CaseEvent.action,
            CaseEvent.role,
            CaseEvent.resettlement_country,
            CaseEvent.transit_country,
            User.username,
            User.country,
            CaseEvent.payload,
        ).join(User, User.id == CaseEvent.user_id),
    )
    assert {e.username for e in events} == set(DEMO_USERS) - {"demo_manager", "demo_admin"}
    roles: dict[str, set[str]] = {}
    for event in events:
        split = event.action == "create" and "split_from" in event.payload
        roles.setdefault("create (split)" if split else event.action, set()).add(event.role)
        assert event.username.startswith(f"demo_{event.role}")
        if event.role == "resettlement_officer" and event.resettlement_country:
            assert event.country == event.resettlement_country
        if event.role == "transit_officer" and event.transit_country:
            assert event.country == event.transit_country
    assert roles["create"] == roles["request_review"] == {"caseworker"}
    assert roles["submit"] == roles["close"] == {"supervisor"}
    assert roles["split_case"] == roles["create (split)"] == {"supervisor"}
    assert roles["decide"] == {"resettlement_officer"}
    assert roles["record_transit_entry"] == {"transit_officer"}


# --- the demo users -------------------------------------------------------------------------


async def test_demo_users_have_their_roles_and_countries_and_can_sign_in(
    first_start: FirstStart, http: httpx.AsyncClient
) -> None:
    for username, (role, country) in DEMO_USERS.items():
        token = await sign_in(http, username, first_start.passwords[username])
        me = await http.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert (me.json()["role"], me.json()["country"]) == (role, country)


async def test_a_state_officer_sees_the_cases_submitted_to_its_state_only(
    first_start: FirstStart, http: httpx.AsyncClient, conn: AsyncConnection
) -> None:
    token = await sign_in(
        http,
        "demo_resettlement_officer_bra",
        first_start.passwords["demo_resettlement_officer_bra"],
    )
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await http.get(
            f"{API}/cases", params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert page.status_code == 200
        seen += page.json()["items"]
        if not (cursor := page.json()["next_cursor"]):
            break
    ((expected,),) = await rows(
        conn,
        select(func.count(func.distinct(Submission.case_id))).where(
            Submission.resettlement_country == "BRA"
        ),
    )
    assert len(seen) == expected > 0
    assert all({s["resettlement_country"] for s in item["submissions"]} == {"BRA"} for item in seen)


# --- refusal, --if-empty, --force -----------------------------------------------------------


def test_a_database_with_cases_is_refused_without_force(
    first_start: FirstStart, migrated: Settings
) -> None:
    result = pta(migrated, "demo", "load")
    assert result.returncode == 1
    assert "already holds" in result.stderr and "--force" in result.stderr
    assert "demo_admin" not in result.stdout


def test_if_empty_says_the_data_was_loaded_at_first_start(
    first_start: FirstStart, migrated: Settings
) -> None:
    result = pta(migrated, "demo", "load", "--if-empty")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "first start" in lines[0] and "passwords" in lines[0]
    if migrated.sqlite_path() is not None:
        assert f"rm {migrated.sqlite_path()}*" in lines[0]


def test_force_and_if_empty_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "load", "--force", "--if-empty"])
    args = build_parser().parse_args(["demo", "load", "--force", "--seed", "3"])
    assert (args.force, args.if_empty, args.seed) == (True, False, 3)
    assert build_parser().parse_args(["demo", "load"]).seed == 2016


async def test_force_deletes_every_case_first_and_resets_the_demo_passwords(
    first_start: FirstStart,
    migrated: Settings,
    http: httpx.AsyncClient,
    plans: list[CasePlan],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs last: it replaces the module's data (with a short plan, to keep the test fast)."""
    short = [plan for plan in plans if plan.steps][:40]
    monkeypatch.setattr(demo, "build_plan", lambda seed, today: short)
    engine: AsyncEngine = demo.loader_engine(migrated)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            db = SqlaDb(connection)
            held = await demo.count_cases(db)
            loaded = await demo.load(
                db,
                seed=demo.DEFAULT_SEED,
                today=now.date(),
                now=now,
                replace=True,
                checklist=tuple(RequirementItem),  # the default: every planned step
            )
        async with engine.connect() as connection:
            fingerprint = await database_fingerprint(connection)
            references = (await connection.execute(select(Case.reference))).scalars().all()
    finally:
        await engine.dispose()
    assert loaded.replaced == held > len(short) == loaded.cases
    assert Counter(fingerprint) == Counter(plan_fingerprint(short))
    assert min(int(reference[-6:]) for reference in references) == 1
    new = {user.username: user.password for user in loaded.users}
    old = first_start.passwords["demo_supervisor"]
    assert await sign_in(http, "demo_supervisor", old, expect=401) is None
    assert await sign_in(http, "demo_supervisor", new["demo_supervisor"])
    # The funnel forgets the deleted cases: it counts the new data only.
    token = await sign_in(http, "demo_manager", new["demo_manager"])
    expected = demo_plan.window_people(short, WINDOW_START, WINDOW_END)
    assert await funnel_people(http, token) == expected != PUBLISHED


# --- helpers --------------------------------------------------------------------------------


def replay(plan: CasePlan, today: date) -> None:
    """Walk a plan through the real state machine table (models/lifecycle.py), with the rules
    of services/actions.py that the plan must respect, without a database."""
    status, before = CaseStatus.identified, CaseStatus.identified
    submissions: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    milestones = [plan.identified_at]
    open_split = False  # a split decision not resolved yet
    checklist: dict[str, str | None] = {}  # item → its status, since the acceptance
    moment = plan.created_at
    assert plan.identified_at <= moment.date() < today
    assert 1 <= len(plan.members) <= 7 and sum(m["is_principal"] for m in plan.members) == 1
    for step in plan.steps:
        assert moment < step.at and step.at.date() < today, (plan.key, step)
        moment, command, action = step.at, step.command, Action(step.action)
        snapshot = Snapshot(
            pathway=Pathway(plan.pathway),
            submission=SubmissionStatus(submissions[-1]["status"]) if submissions else None,
            stay=StayStatus(stays[-1]["status"]) if stays else None,
            open_split=open_split,
        )
        found = step_for(status, action, snapshot)
        assert found is not None, (plan.key, status, snapshot, step)
        role, _, country = step.actor.partition(":")
        assert role in ALLOWED_ROLES[action], (plan.key, step)
        if role in ("resettlement_officer", "transit_officer"):
            subject = submissions if role == "resettlement_officer" else stays
            assert subject[-1]["country"] == country
        for name in ("entered_at", "departed_at", "arrived_at"):
            if name in command:
                assert max(milestones) <= command[name] <= step.at.date(), (plan.key, step)
                milestones.append(command[name])
        if action in (Action.submit, Action.resubmit):
            country = command["resettlement_country"]
            assert not any(s["country"] == country and s["status"] == "denied" for s in submissions)
            submissions.append({"country": country, "status": "pending"})
            if len(milestones) == 1:
                milestones.append(step.at.date())
        elif action is Action.decide:
            submissions[-1]["status"] = command["decision"]
            open_split = bool(plan.split_off) and command["decision"] == "accepted"
        elif action is Action.split_case:
            open_split = False
        elif action is Action.provide_information:
            submissions[-1]["status"] = "pending"
        elif action is Action.update_requirement:
            checklist[command["item"]] = command.get("status", checklist.get(command["item"]))
            assert command.get("done_on", step.at.date()) <= step.at.date(), (plan.key, step)
        elif action is Action.withdraw_submission:
            submissions[-1]["status"] = "withdrawn"
        elif action is Action.request_transit:
            stays.append({"country": command["transit_country"], "status": "requested"})
        elif action in (Action.authorise_transit, Action.refuse_transit):
            stays[-1]["status"] = "authorised" if action is Action.authorise_transit else "refused"
        elif action is Action.record_transit_entry:
            stays[-1].update(status="in_transit", until=command["entered_at"] + timedelta(180))
        elif action is Action.extend_transit:
            assert command["authorised_until"] > stays[-1]["until"]
            stays[-1]["until"] = command["authorised_until"]
        elif action is Action.record_departure:
            assert submissions[-1]["status"] == "accepted" and not open_split
            assert set(checklist.values()) <= {"done", "waived"}, (plan.key, checklist)
            assert set(checklist) == set(RequirementItem), (plan.key, checklist)
        active = ("requested", "authorised", "in_transit")
        if action in (Action.record_departure, Action.close) and stays[-1:]:
            stays[-1]["status"] = "exited" if stays[-1]["status"] in active else stays[-1]["status"]
        if action is Action.decide and command["decision"] == "accepted":
            checklist = {}
        live = ("pending", "on_hold", "accepted", "information_requested")
        if action is Action.close and submissions[-1:] and submissions[-1]["status"] in live:
            submissions[-1]["status"] = "withdrawn"
        if action is Action.close:
            before = status
        status = found.to or before
    assert status == standing(plan).status


async def sign_in(
    http: httpx.AsyncClient, username: str, password: str, expect: int = 200
) -> str | None:
    response = await http.post(
        f"{API}/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == expect, response.text
    return response.json()["access_token"] if expect == 200 else None


async def funnel_people(http: httpx.AsyncClient, token: str | None) -> dict[str, int]:
    """People per stage of the funnel report between 2016-01-01 and 2019-09-30."""
    response = await http.get(
        f"{API}/reports/funnel",
        params={"from": str(WINDOW_START), "to": str(WINDOW_END)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    people = {stage["stage"]: stage["people"] for stage in response.json()["stages"]}
    return {stage: people[stage] for stage in ("identified", "submitted", "resettled")}


def plan_fingerprint(plans: list[CasePlan]) -> list[tuple[Any, ...]]:
    return [fp for plan in plans for fp in case_fingerprints(plan)]


def case_fingerprints(plan: CasePlan) -> list[tuple[Any, ...]]:
    """What the database must hold for one plan: a split decision's case keeps the members
    the state accepted, and a new case (in assessment, identified with the original, created
    by its split) holds the others, the first of them its principal."""
    members = [tuple(m[name] for name in MEMBER_FIELDS) for m in plan.members]
    stay = members[: len(members) - plan.split_off]
    out: list[tuple[Any, ...]] = [
        (
            plan.identified_at,
            plan.origin,
            plan.pathway,
            plan.priority,
            standing(plan).status,
            plan.first_submitted_at,
            plan.resettled_at,
            tuple(stay),
            (("create", plan.created_at), *((s.action, s.at) for s in plan.steps)),
        )
    ]
    if plan.split_off:
        split = next(s for s in plan.steps if s.action == "split_case")
        moved = [(*m[:-1], i == 0) for i, m in enumerate(members[len(stay) :])]
        out.append(
            (
                plan.identified_at,
                plan.origin,
                plan.pathway,
                plan.priority,
                "assessment",
                None,
                None,
                tuple(moved),
                (("create", split.at),),
            )
        )
    return out


async def database_fingerprint(conn: AsyncConnection) -> list[tuple[Any, ...]]:
    cases = (await conn.execute(select(Case).order_by(Case.id))).mappings().all()
    members: dict[Any, list[tuple[Any, ...]]] = {}
    for m in (
        await conn.execute(select(Member).order_by(Member.case_id, Member.position))
    ).mappings():
        members.setdefault(m["case_id"], []).append(tuple(m[name] for name in MEMBER_FIELDS))
    events: dict[Any, list[tuple[str, datetime]]] = {}
    for e in await conn.execute(
        select(CaseEvent.case_id, CaseEvent.action, CaseEvent.at).order_by(CaseEvent.id)
    ):
        events.setdefault(e.case_id, []).append((e.action, e.at))
    await conn.rollback()
    return [
        (
            c["identified_at"],
            c["origin_country"],
            c["pathway"],
            c["processing_priority"],
            c["status"],
            c["first_submitted_at"],
            c["resettled_at"],
            tuple(members[c["id"]]),
            tuple(events[c["id"]]),
        )
        for c in cases
    ]
