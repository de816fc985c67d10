"""Issue 19, items 4 and 5: replays and streams are judged by today's rules, and four eyes
mean it (the supervisor who drafted or changed a case since review was requested may not
submit or resubmit it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import User
from app.services import exports, users
from tests.access_helpers import HOME_STATE, SUBMISSION
from tests.common import assert_problem
from tests.factories import Factory, TestUser, case_body

pytestmark = pytest.mark.reliability
API = "/api/v1"


async def patch(
    client: httpx.AsyncClient, by: TestUser, case: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = await client.patch(
        f"{API}/cases/{case['id']}",
        json=fields,
        headers={**by.headers, "If-Match": f'"{case["version"]}"'},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def in_review(make: Factory, drafter: TestUser) -> dict[str, Any]:
    case = await make.case(drafter)
    case = await make.act(drafter, case, "start_assessment")
    return await make.act(drafter, case, "request_review")


# Four eyes ------------------------------------------------------------------------------------
async def test_a_supervisor_who_changed_the_case_in_review_may_not_submit_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker, editor, second = (
        await make.user("caseworker"),
        await make.user("supervisor"),
        await make.user("supervisor"),
    )
    case = await in_review(make, worker)
    case = await patch(client, editor, case, protection_summary="Rewritten by the reviewer.")
    submit = {"resettlement_country": HOME_STATE, **SUBMISSION}
    refused = await make.act(editor, case, "submit", expect=403, **submit)
    assert refused["code"] == "four_eyes"
    members = [{k: v for k, v in m.items() if k != "id"} for m in case["members"]][:1]
    case = await patch(client, second, case, members=members)
    assert (await make.act(second, case, "submit", expect=403, **submit))["code"] == "four_eyes"
    # Back to assessment and a new request for review: the changes before it no longer count.
    case = await make.act(second, case, "return_to_assessment", reason="Check the members")
    case = await make.act(worker, case, "request_review")
    submitted = await make.act(editor, case, "submit", **submit)
    assert submitted["status"] == "submitted"


async def test_a_drafting_supervisor_may_not_resubmit_alone(
    client: httpx.AsyncClient, make: Factory
) -> None:
    drafter, second, third = (
        await make.user("supervisor"),
        await make.user("supervisor"),
        await make.user("supervisor"),
    )
    officer = await make.user("resettlement_officer", HOME_STATE)
    case = await in_review(make, drafter)
    case = await make.act(second, case, "submit", resettlement_country=HOME_STATE, **SUBMISSION)
    case = await make.act(officer, case, "decide", decision="denied", reason="Not eligible")
    resubmit = {"resettlement_country": "CAN", **SUBMISSION}
    fresh = (await client.get(f"{API}/cases/{case['id']}", headers=drafter.headers)).json()
    problem = await make.act(drafter, fresh, "resubmit", expect=403, **resubmit)
    assert problem["code"] == "four_eyes"
    # A change after the denial, since the last request_review, also counts.
    fresh = await patch(client, second, fresh, protection_summary="Updated after the denial.")
    assert (await make.act(second, fresh, "resubmit", expect=403, **resubmit))["code"] == (
        "four_eyes"
    )
    done = await make.act(third, fresh, "resubmit", **resubmit)
    assert [s["resettlement_country"] for s in done["submissions"]] == [HOME_STATE, "CAN"]


# Replays --------------------------------------------------------------------------------------
async def test_a_replay_after_a_demotion_is_a_404(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    worker = await make.user("caseworker")
    headers = {**worker.headers, "Idempotency-Key": "create-1"}
    body = case_body()
    first = await client.post(f"{API}/cases", json=body, headers=headers)
    assert first.status_code == 201
    again = await client.post(f"{API}/cases", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == worker.id).values(role="manager"))
    demoted = await client.post(f"{API}/cases", json=body, headers=headers)
    assert_problem(demoted, 404, "not_found")
    assert "given_name" not in demoted.text


async def test_an_officer_replaying_a_decision_sees_todays_view(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker, boss = await make.user("caseworker"), await make.user("supervisor")
    officer = await make.user("resettlement_officer", HOME_STATE)
    case = await in_review(make, worker)
    case = await make.act(boss, case, "submit", resettlement_country=HOME_STATE, **SUBMISSION)
    seen = (await client.get(f"{API}/cases/{case['id']}", headers=officer.headers)).json()
    headers = {**officer.headers, "If-Match": f'"{seen["version"]}"', "Idempotency-Key": "d-1"}
    decision = {"action": "decide", "decision": "on_hold", "reason": "Waiting for papers"}
    url = f"{API}/cases/{case['id']}/transitions"
    first = await client.post(url, json=decision, headers=headers)
    assert first.status_code == 200 and first.json()["protection_summary"]
    fresh = (await client.get(f"{API}/cases/{case['id']}", headers=boss.headers)).json()
    await make.act(boss, fresh, "close", reason="lost_contact")
    again = await client.post(url, json=decision, headers=headers)
    assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"]
    view = again.json()
    assert view["status"] == "closed" and view.get("protection_summary") is None
    assert (
        again.json()
        == (await client.get(f"{API}/cases/{case['id']}", headers=officer.headers)).json()
    )


# Streams --------------------------------------------------------------------------------------
async def test_an_export_stops_once_its_user_is_deactivated(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, admin = await make.user("caseworker"), await make.user("admin")
    for _ in range(4):
        await make.case(worker)
    whole = await client.get(f"{API}/cases/export", headers=worker.headers)
    assert whole.status_code == 200 and whole.text.endswith("\r\n")
    assert len(whole.text.splitlines()) == 6  # the header, its HXL row and four cases

    real = users.still_the_same
    calls = 0

    async def deactivated_during_the_stream(database: Any, actor: Any) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:  # after two rows, the admin deactivates the user
            response = await client.patch(
                f"{API}/users/{worker.id}", json={"active": False}, headers=admin.headers
            )
            assert response.status_code == 200, response.text
        return await real(database, actor)

    monkeypatch.setattr(exports, "CHECK_USER_SECONDS", 0.0)
    monkeypatch.setattr(users, "still_the_same", deactivated_during_the_stream)
    cut = await client.get(f"{API}/cases/export", headers=worker.headers)
    assert cut.status_code == 200
    assert not cut.text.endswith("\n")  # truncated: no final newline
    lines = cut.text.split("\r\n")  # the header, its HXL row, one case cut short
    assert len(lines) == 3 and lines[0] == whole.text.split("\r\n")[0]
