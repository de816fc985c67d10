"""No personal data in logs, over a whole case's life: a real ``pta serve`` (DEBUG level, so
the most it will ever write) takes a household from creation through edits, review, a decision
with a reason, transit, closure and reopening to resettlement, read by every role on the way,
with refused requests that quote the data back — and nothing it wrote, stdout or stderr, holds
a member's name, date of birth, document number or any narrative (protection summary,
referral source, reasons, notes). tests/test_logs.py covers the in-process log lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.vocabulary import RequirementItem
from tests.factories import Factory, case_body, member
from tests.lifecycle_helpers import days, make_cast, submission
from tests.live_server import LiveServer, start_server

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

GIVEN, FAMILY = "Wenceslava", "Threlkeld-Oyarzun"
CHILD, SPOUSE = "Ildefonso", "Maricruz"
BIRTH, CHILD_BIRTH = "1971-08-23", "2012-11-05"
DOCUMENT, CHILD_DOCUMENT = "PAS-WT-904417", "DUI-IO-330981"
SUMMARY = "Extorted by the Oyarzun cell after testifying at Santa Tecla"
REFERRAL = "Referred by the Threlkeld legal aid clinic"
REASONS = {
    "return": "Needs the Santa Tecla testimony annex",
    "hold": "Pending the Oyarzun background check",
    "accept": "Cleared after the Threlkeld interview",
    "note": "Escorted from the Peñas Blancas crossing",
    "close": "Family hid in Zacatecoluca for a week",
    "reopen": "Wenceslava resurfaced at the shelter",
    "question": "Is Ximenario the principal's brother?",
    "answer": "Ximenario is her cousin from Ilobasco",
    "waived": "Orientation done by Quetzalina in Chalatenango",
}
SECRETS = (
    GIVEN,
    FAMILY,
    CHILD,
    SPOUSE,
    BIRTH,
    CHILD_BIRTH,
    DOCUMENT,
    CHILD_DOCUMENT,
    SUMMARY,
    REFERRAL,
    "Oyarzun",
    "Threlkeld",
    "Santa Tecla",
    *REASONS.values(),
)


@pytest.fixture(scope="module")
def server(migrated: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(
        migrated.database_url,
        tmp_path_factory.mktemp("no-personal-data"),
        workers=2,
        extra_env={"PTA_LOG_LEVEL": "DEBUG"},
    )
    try:
        yield running
    finally:
        running.stop()


def household(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        referral_source=REFERRAL,
        protection_summary=SUMMARY,
        members=[
            member(
                given_name=GIVEN, family_name=FAMILY, date_of_birth=BIRTH, document_number=DOCUMENT
            ),
            member(
                is_principal=False,
                given_name=CHILD,
                family_name=FAMILY,
                sex="male",
                date_of_birth=CHILD_BIRTH,
                relationship="child",
                document_number=CHILD_DOCUMENT,
            ),
        ],
    )
    return case_body(**{**fields, **overrides})


async def test_a_whole_case_life_leaves_no_personal_data_in_the_logs(
    make: Factory, server: LiveServer
) -> None:
    c = await make_cast(make)
    admin, manager = await make.user("admin"), await make.user("manager")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        created = await http.post(
            "/api/v1/cases",
            json=household(),
            headers={**c.worker.headers, "Idempotency-Key": f"{GIVEN}-{BIRTH}"},
        )
        assert created.status_code == 201, created.text
        case = created.json()
        replay = await http.post(
            "/api/v1/cases",
            json=household(),
            headers={**c.worker.headers, "Idempotency-Key": f"{GIVEN}-{BIRTH}"},
        )
        assert replay.status_code == 201

        async def act(user: Any, action: str, expect: int = 200, **fields: Any) -> None:
            nonlocal case
            answer = await http.post(
                f"/api/v1/cases/{case['id']}/transitions",
                json={"action": action, **fields},
                headers={**user.headers, "If-Match": f'"{case["version"]}"'},
            )
            assert answer.status_code == expect, (action, answer.text)
            if expect == 200:
                case = answer.json()

        edited = household(protection_summary=SUMMARY + " (updated)")
        edited["members"].append(
            member(
                is_principal=False,
                given_name=SPOUSE,
                family_name=FAMILY,
                relationship="spouse",
                date_of_birth=BIRTH,
            )
        )
        del edited["origin_country"]
        patched = await http.patch(
            f"/api/v1/cases/{case['id']}",
            json={k: v for k, v in edited.items() if k not in ("pathway",)},
            headers={**c.worker.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert patched.status_code == 200, patched.text
        case = patched.json()
        await act(c.worker, "start_assessment")
        await act(c.worker, "request_review")
        await act(c.boss, "return_to_assessment", reason=REASONS["return"])
        await act(c.worker, "request_review")
        await act(c.worker, "submit", expect=403, **submission("USA"))  # not a supervisor
        await act(c.boss, "submit", **submission("USA"))
        await act(c.usa, "decide", decision="on_hold", reason=REASONS["hold"])
        await act(c.usa, "decide", decision="information_requested", reason=REASONS["question"])
        await act(c.worker, "provide_information", note=REASONS["answer"])
        await act(c.usa, "decide", decision="accepted", reason=REASONS["accept"])
        await act(c.worker, "request_transit", transit_country="CRI")
        await act(c.cri, "authorise_transit", note=REASONS["note"])
        await act(c.cri, "record_transit_entry", entered_at=days(0))
        await act(c.cri, "extend_transit", authorised_until=days(400))
        await act(c.boss, "close", reason="other", note=REASONS["close"])
        await act(c.boss, "reopen", reason=REASONS["reopen"])
        await act(c.boss, "reopen", reason=REASONS["reopen"], expect=409)  # not closed now
        await act(c.boss, "close", reason="other", note=REASONS["close"])
        assert case["status"] == "closed"

        # a second household, straight to resettled (in-country)
        second = await http.post(
            "/api/v1/cases", json=household(pathway="in_country"), headers=c.worker.headers
        )
        assert second.status_code == 201, second.text
        case = second.json()
        await act(c.worker, "start_assessment")
        await act(c.worker, "request_review")
        await act(c.boss, "submit", **submission("CAN"))
        await act(c.can, "decide", decision="accepted", reason=REASONS["accept"])
        for item in RequirementItem:  # the default checklist, every item waived with a note
            await act(
                c.worker, "update_requirement", item=item, status="waived", note=REASONS["waived"]
            )
        await act(c.worker, "record_departure", departed_at=days(0))
        await act(c.can, "confirm_arrival", arrived_at=days(0))
        assert case["status"] == "resettled"

        # reads by every role, and searches by name and document number
        for user in (c.worker, c.boss, c.usa, c.can, c.cri, admin, manager):
            await http.get(f"/api/v1/cases/{case['id']}", headers=user.headers)
            await http.get(f"/api/v1/cases/{case['id']}/events", headers=user.headers)
            await http.get("/api/v1/cases", headers=user.headers)
            await http.get("/api/v1/reports/funnel", headers=user.headers)
            await http.get("/api/v1/reports/transit", headers=user.headers)
            for q in (f"{GIVEN} {FAMILY}", DOCUMENT, f"{CHILD[:4]} threl"):
                await http.get("/api/v1/cases", params={"q": q}, headers=user.headers)
            await http.get(f"/api/v1/cases/{case['id']}/possible-duplicates", headers=user.headers)
        await http.get("/api/v1/cases/export", headers=c.boss.headers)
        await http.get("/api/v1/cases/export", params={"q": GIVEN}, headers=c.boss.headers)
        await http.get("/api/v1/cases", params={"q": f"{GIVEN} " * 40}, headers=c.worker.headers)
        await http.get("/api/v1/audit/access-log", headers=c.boss.headers)
        # refused requests that quote the data back
        bad = household(members=[member(given_name=GIVEN, date_of_birth="2999-01-01")])
        assert (await http.post("/api/v1/cases", json=bad, headers=c.worker.headers)).is_error
        unknown = {**household(), "nickname": GIVEN}
        assert (await http.post("/api/v1/cases", json=unknown, headers=c.worker.headers)).is_error
        reused = await http.post(
            "/api/v1/cases",
            json=household(processing_priority="normal"),
            headers={**c.worker.headers, "Idempotency-Key": f"{GIVEN}-{BIRTH}"},
        )
        assert reused.status_code == 422
        stale = await http.patch(
            f"/api/v1/cases/{case['id']}",
            json={"protection_summary": SUMMARY},
            headers={**c.worker.headers, "If-Match": '"1"'},
        )
        assert stale.status_code in (409, 412)
        await http.get(f"/api/v1/cases?origin_country={FAMILY}", headers=c.worker.headers)
        await http.get(f"/api/v1/nowhere/{GIVEN}?dob={BIRTH}", headers=c.worker.headers)
        await http.post("/api/v1/auth/token", data={"username": GIVEN, "password": DOCUMENT})
        await http.post("/api/v1/auth/token", data={"username": FAMILY, "password": SUMMARY})

    output = server.output()
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) > 60
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    requests = [e for e in server.entries() if e.get("logger") == "pta.request"]
    assert len(requests) > 60 and {e["status"] for e in requests} >= {200, 201, 403, 409, 422}
    leaked = [secret for secret in SECRETS if secret in output]
    assert not leaked, leaked
