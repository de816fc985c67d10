"""What a refused stay means in each place a stay in a country counts (one expression,
``STAY_COUNTS`` in app/models/transit_stay.py, serves all but the first):
- the case list's ``transit_country`` filter for UNHCR matches any stay, refused ones too
  (api.md: "a case with any … stay to that country");
- a transit officer's scope leaves the refused country out (domain.md's scope table);
- the funnel's ``transit_country`` filter, from its rollup, does not count the refused country.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Factory, TestUser
from tests.lifecycle_helpers import SUBMIT_USA, Driver, make_cast

API = "/api/v1"


async def _listed(client: httpx.AsyncClient, user: TestUser, **params: str) -> list[str]:
    response = await client.get(f"{API}/cases", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _identified(client: httpx.AsyncClient, user: TestUser, **params: str) -> Any:
    response = await client.get(f"{API}/reports/funnel", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["stages"][0]["cases"]


async def test_a_refused_stay_counts_only_in_the_unhcr_list_filter(
    client: httpx.AsyncClient, make: Factory
) -> None:
    drive = Driver(client, make, await make_cast(make))
    c = drive.cast
    case = await drive.run(await drive.new_case(), SUBMIT_USA)
    case = await drive.act(c.worker, case, "request_transit", transit_country="PAN")
    case = await drive.act(c.pan, case, "refuse_transit", reason="Quota reached")
    case = await drive.act(c.worker, case, "request_transit", transit_country="CRI")
    case = await drive.act(c.cri, case, "authorise_transit")

    assert await _listed(client, c.worker, transit_country="PAN") == [case["id"]]
    assert await _listed(client, c.worker, transit_country="CRI") == [case["id"]]
    assert await _listed(client, c.pan) == []
    assert (await client.get(f"{API}/cases/{case['id']}", headers=c.pan.headers)).status_code == 404
    assert await _listed(client, c.cri) == [case["id"]]
    assert await _identified(client, c.manager, transit_country="PAN") == 0
    assert await _identified(client, c.manager, transit_country="CRI") == 1
