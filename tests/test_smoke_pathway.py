"""A household through the whole transit pathway, over HTTP."""

from __future__ import annotations

import httpx

from tests.factories import Factory


async def test_transit_pathway_end_to_end(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    boss = await make.user("supervisor")
    usa = await make.user("resettlement_officer", "USA")
    cri = await make.user("transit_officer", "CRI")

    case = await make.case(worker)
    case = await make.act(worker, case, "start_assessment")
    case = await make.act(worker, case, "request_review")
    assert case["drafted_by"] == str(worker.id)
    case = await make.act(
        boss,
        case,
        "submit",
        resettlement_country="USA",
        submission_priority="urgent",
        primary_category="legal_physical_protection_needs",
        secondary_category="women_girls_at_risk",
    )
    assert case["status"] == "submitted" and case["stage"] == "submission"
    case = await make.act(worker, case, "request_transit", transit_country="CRI")
    seen = await make.act(cri, case, "authorise_transit", note="Cleared")
    assert seen["transit_stays"][0]["status"] == "authorised"
    case = (await client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)).json()
    case = await make.act(cri, case, "record_transit_entry", entered_at=case["identified_at"])
    assert case["status"] == "in_transit"
    case = (await client.get(f"/api/v1/cases/{case['id']}", headers=usa.headers)).json()
    assert "referral_source" not in case
    case = await make.act(usa, case, "decide", decision="accepted")
    case = await make.act(
        worker,
        (await client.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)).json(),
        "record_departure",
        departed_at=case["submissions"][0]["submitted_at"][:10],
    )
    assert case["status"] == "departed"
    case = await make.act(boss, case, "confirm_arrival", arrived_at=case["departed_at"])
    assert case["status"] == "resettled" and case["stage"] == "resettlement"
    assert case["transit_stays"][0]["status"] == "exited"

    events = (await client.get(f"/api/v1/cases/{case['id']}/events", headers=boss.headers)).json()
    assert [e["action"] for e in events["items"]] == [
        "create",
        "start_assessment",
        "request_review",
        "submit",
        "request_transit",
        "authorise_transit",
        "record_transit_entry",
        "decide",
        "record_departure",
        "confirm_arrival",
    ]
