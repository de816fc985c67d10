"""Search (``q`` on GET /cases and the export; domain.md "Search and possible duplicates") over
HTTP, on SQLite and PostgreSQL: by reference, by document number however it is written, by the
starts of words of one member's names whatever their accents and case — and only within the
caller's scope, written to the access log with the words searched, and in step with the
members after every PATCH and split."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from app.services import search
from tests.access_helpers import Builder
from tests.common import assert_problem, make_cast
from tests.factories import Factory, TestUser, member
from tests.lifecycle_helpers import IN_TRANSIT, Driver

CASES = "/api/v1/cases"
LOG = "/api/v1/audit/access-log"


@pytest.fixture(autouse=True, params=["window", "past the window"])
def _window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page walks the next cases, then asks the indexes for those past them: with a window
    of one case, every search here takes both ways (on both databases)."""
    if request.param == "past the window":
        monkeypatch.setattr(search, "WINDOW", 1)


@pytest.fixture
async def drive(client: httpx.AsyncClient, make: Factory) -> Driver:
    return Driver(client, make, await make_cast(make))


def jose(**overrides: Any) -> dict[str, Any]:
    return member(
        given_name="José Luis",
        family_name="Hernández de la Peña",
        sex="male",
        date_of_birth="1984-07-19",
        document_number="A12-345 678",
        **overrides,
    )


def child(**overrides: Any) -> dict[str, Any]:
    fields = {
        "is_principal": False,
        "given_name": "Güendolín",
        "family_name": "O'Connor Núñez",
        "date_of_birth": "2014-02-02",
        "relationship": "child",
        **overrides,
    }
    return member(**fields)


async def found(
    client: httpx.AsyncClient, user: TestUser, q: str, **params: Any
) -> list[str] | int:
    """The ids of the cases ``q`` finds for ``user`` (every page), or the status of a refusal."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {"q": q, "limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(CASES, params=query, headers=user.headers)
        if response.status_code != 200:
            return response.status_code
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


# fmt: off
#: (q, finds the household of José Luis Hernández de la Peña and his child)
QUERIES = [
    ("jose hern",               True),     # the contract's example
    ("JOSÉ HERNÁNDEZ",          True),     # case and accents
    ("hernandez jose",          True),     # any order
    ("her lu",                  True),     # starts of words
    ("de la pena",              True),     # particles are words too
    ("peña",                    True),
    ("Pena Hernandez",          True),
    ("  hern  ",                True),     # trimmed
    ("guendolin oconnor",       True),     # ü; the apostrophe joins O'Connor
    ("o'connor",                True),
    ("Núñez",                   True),
    ("nunez guen",              True),
    ("ernandez",                False),    # not the start of a word
    ("jose nunez",              False),    # two members' words, not one member's
    ("guendolin hernandez",     False),
    ("josel",                   False),
    ("hernandezz",              False),
    ("maria",                   False),
]
# fmt: on


@pytest.mark.parametrize(("q", "expected"), QUERIES)
async def test_names_by_the_starts_of_one_members_words(
    client: httpx.AsyncClient, make: Factory, q: str, expected: bool
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker, members=[jose(), child()])
    await make.case(worker)  # Ana Lopez: found by none of these
    assert await found(client, worker, q) == ([case["id"]] if expected else [])


async def test_reference_and_document_numbers_however_written(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    case = await make.case(worker, members=[jose(), child(document_number="x-77 01")])
    other = await make.case(worker, members=[member(document_number="A12345679")])
    reference = case["reference"]
    for q in (reference, reference.lower(), f"  {reference} "):
        assert await found(client, worker, q) == [case["id"]], q
    for q in ("A12345678", "a12-345-678", "a 12 345 678", "X7701", "x 77-01"):
        assert await found(client, worker, q) == [case["id"]], q
    for q in ("A12345", "12345678", reference[:-1]):  # whole numbers and references only
        assert await found(client, worker, q) == [], q
    assert await found(client, worker, "A12345679") == [other["id"]]


async def test_q_is_one_to_two_hundred_characters_once_trimmed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    for q in ("", "   ", "x" * 201, "jose\x00"):
        for path in (CASES, f"{CASES}/export"):
            response = await client.get(path, params={"q": q}, headers=worker.headers)
            body = assert_problem(response, 422, "validation_error")
            assert body["errors"][0]["loc"] == ["query", "q"], body
    for q in ("x" * 200, f"  {'x' * 200}  ", "-"):
        assert await found(client, worker, q) == [], q


async def test_search_with_other_filters_pages_and_the_export(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    ids = [(await make.case(worker, members=[jose()]))["id"] for _ in range(5)]
    guatemalan = await make.case(worker, origin_country="GTM", members=[jose()])
    await make.case(worker)
    assert await found(client, worker, "jose hernandez") == [*ids, guatemalan["id"]]
    assert await found(client, worker, "jose", origin_country="GTM") == [guatemalan["id"]]
    response = await client.get(
        f"{CASES}/export", params={"q": "José Hernández"}, headers=worker.headers
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))[1:]  # under the header: HXL tags
    assert [row["id"] for row in rows] == [*ids, guatemalan["id"]]


async def test_every_search_is_in_the_access_log_with_its_words(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker, boss = await make.user("caseworker"), await make.user("supervisor")
    case = await make.case(worker, members=[jose()])
    await client.get(
        CASES, params={"q": " José Hern ", "status": "identified"}, headers=worker.headers
    )
    await client.get(f"{CASES}/export", params={"q": "A12-345 678"}, headers=worker.headers)
    response = await client.get(LOG, params={"user_id": str(worker.id)}, headers=boss.headers)
    export, listed = response.json()["items"]
    assert (listed["action"], listed["case_ids"]) == ("list", [case["id"]])
    assert listed["filters"] == {"q": "José Hern", "status": "identified"}
    assert (export["action"], export["filters"]) == ("export", {"q": "A12-345 678"})


async def test_officers_find_only_cases_in_their_scope(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Every household here holds José Luis Hernández with the same document number: each role
    finds exactly the cases its list holds, by name, by document and by reference."""
    people = await make_cast(make)
    builder = Builder(client, make, people)
    overrides = {"members": [jose()]}
    cases = {
        "not_submitted": await builder.pending_review(**overrides),
        "usa": await builder.submitted("USA", **overrides),
        "can": await builder.submitted("CAN", **overrides),
    }
    for name, transit in (("usa_cri", "CRI"), ("usa_pan", "PAN")):
        case = await builder.submitted("USA", **overrides)
        officer = people.transit(transit)
        case = await make.act(people.worker, case, "request_transit", transit_country=transit)
        await make.act(officer, case, "authorise_transit")
        cases[name] = await builder.fresh(case)
    scopes = [
        (people.worker, set(cases)),
        (people.boss, set(cases)),
        (people.usa, {"usa", "usa_cri", "usa_pan"}),
        (people.can, {"can"}),
        (people.aus, set()),
        (people.cri, {"usa_cri"}),
        (people.pan, {"usa_pan"}),
    ]
    for user, names in scopes:
        expected = sorted(cases[name]["id"] for name in names)
        for q in ("jose luis hernandez", "A12345678"):
            assert sorted(await found(client, user, q)) == expected, (user.username, q)  # type: ignore[arg-type]
        for name, case in cases.items():
            hits = await found(client, user, case["reference"])
            assert hits == ([case["id"]] if name in names else []), (user.username, name)
    for role in ("manager", "admin"):
        user = await make.user(role)
        assert await found(client, user, "jose") == 403


async def test_search_follows_the_members_after_patch_and_split(drive: Driver) -> None:
    c = drive.cast
    household = [
        jose(),
        child(),
        member(
            is_principal=False, given_name="Rosa", family_name="Menjívar", relationship="spouse"
        ),
    ]
    case = await drive.new_case(members=household)
    members = [{**m} for m in case["members"]]
    members[0]["family_name"] = "Hernández Portillo"
    members[0]["document_number"] = "B-99"
    members[1].pop("id")  # the child leaves, a newborn joins
    members[1].update(given_name="Xiomara", family_name="Portillo", date_of_birth="2024-01-01")
    response = await drive.patch(c.worker, case["id"], case["version"], members=members)
    assert response.status_code == 200, response.text
    assert await found(drive.client, c.worker, "jose pena") == []
    assert await found(drive.client, c.worker, "A12345678") == []
    assert await found(drive.client, c.worker, "guendolin") == []
    assert await found(drive.client, c.worker, "jose portillo") == [case["id"]]
    assert await found(drive.client, c.worker, "b99") == [case["id"]]
    assert await found(drive.client, c.worker, "xiomara port") == [case["id"]]

    case = await drive.run(response.json(), IN_TRANSIT)
    ids = [m["id"] for m in case["members"]]
    case = await drive.get(case["id"])
    await drive.act(c.usa, case, "decide", decision="accepted", accepted_members=ids[:1])
    case = await drive.get(case["id"])
    moving = [m["id"] for m in case["members"][1:]]
    response = await drive.post(
        c.boss,
        case["id"],
        "split_case",
        case["version"],
        members=moving,
        principal=moving[1],
        reason="The state accepted the father only",
    )
    assert response.status_code == 200, response.text
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    assert await found(drive.client, c.worker, "rosa menjivar") == [new_id]
    assert await found(drive.client, c.worker, "xiomara") == [new_id]
    assert await found(drive.client, c.worker, "jose portillo") == [case["id"]]
    assert await found(drive.client, c.usa, "rosa") == [], "the new case is not the state's"
