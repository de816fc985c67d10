"""The manager dashboard: its headers and files over HTTP, then the real service in a real
browser (Playwright driving Debian's chromium): sign in, read the funnel off the page (table
cells and SVG labels) and compare with the API, Spanish, filters, groups, CSV, transit."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.dashboard import ASSETS, STATIC, preferred_language
from app.config import Settings
from tests import tools
from tests.factories import Factory
from tests.timeline import Timeline

CHROMIUM = os.environ.get("PTA_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PTA = Path(sys.executable).with_name("pta")
SERVER_KEY = "dashboard-test-secret-key-0123456789abcdefghij"
MANAGER, MANAGER_PASSWORD = "dash_manager", "manager-password-for-tests"
STAGES = ("identified", "submitted", "in_transit", "resettled")


# ---------- the page and its files, over HTTP (no browser needed) ----------


async def test_page_is_served_with_strict_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src"):
        assert directives[name] == "'self'", name
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "accept-language" in response.headers["vary"].lower()
    # no inline script or style: everything comes from /dashboard/…
    html = response.text
    assert "<style" not in html and "style=" not in html
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="dashboard/i18n.js" defer>',
        '<script src="dashboard/dashboard.js" defer>',
    ]


async def test_language_follows_accept_language(client: httpx.AsyncClient) -> None:
    spanish = await client.get("/dashboard", headers={"Accept-Language": "es-CR,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in spanish.text and spanish.headers["content-language"] == "es"
    english = await client.get("/dashboard", headers={"Accept-Language": "fr, en;q=0.8, es;q=0.7"})
    assert '<html lang="en">' in english.text
    assert '<html lang="en">' in (await client.get("/dashboard")).text
    assert preferred_language("de-DE, es;q=0") == "en"  # q=0 means "not acceptable"
    assert preferred_language("*;q=0.1, es-MX;q=0.4") == "es"


async def test_assets_are_served_and_nothing_else(client: httpx.AsyncClient) -> None:
    for name, media_type in ASSETS.items():
        response = await client.get(f"/dashboard/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
        assert response.headers["x-content-type-options"] == "nosniff"
    for path in ("/dashboard/index.html", "/dashboard/..%2Fcli.py", "/dashboard/app.js"):
        missing = await client.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"] == "application/problem+json"


def test_static_files_reference_nothing_outside_the_service() -> None:
    names = sorted(path.name for path in STATIC.iterdir())
    assert names == sorted([*ASSETS, "index.html"])
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert not re.search(r"localStorage\s*[.\[]", text), path.name
        assert "innerHTML" not in text and "eval(" not in text, path.name


def test_every_label_is_translated() -> None:
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    english, spanish = re.split(r"^  es: \{$", source, maxsplit=1, flags=re.M)
    keys = [set(re.findall(r"^    (\w+):", part, flags=re.M)) for part in (english, spanish)]
    assert keys[0] == keys[1] and len(keys[0]) > 50
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-i18n="(\w+)"', html)) <= keys[0]
    script = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    used = re.findall(r'(?:\bt|setMessage\("[\w-]+",|ApiError)\("?(\w+)"', script)
    assert set(used) - {"role_", "stage_"} <= keys[0]


def test_static_files_are_package_data() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert re.search(r"\[tool\.setuptools\.package-data\]\s*app = \[\"dashboard/\*\"", pyproject)


# ---------- the real service in a real browser ----------


def _free_port() -> int:
    """A free port in this project's range if one is, else any free port."""
    for port in [*range(18300, 18350), 0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise RuntimeError("no free port")


def _server_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PTA_")}
    env.update(
        PTA_DATABASE_URL=database_url,
        PTA_SECRET_KEY=SERVER_KEY,
        PTA_TRANSIT_CAPACITY="CRI=50",
        PTA_LOG_LEVEL="WARNING",
    )
    return env


@dataclass
class Service:
    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def service(migrated: Settings) -> Iterator[Service]:
    """``pta serve`` on the tests' own database (a temporary SQLite file, or TEST_DATABASE_URL)."""
    if not Path(CHROMIUM).exists():
        tools.missing(f"chromium not found at {CHROMIUM}: apt-get install -y chromium")
    if importlib.util.find_spec("playwright") is None:
        tools.missing("playwright is not installed (the dev extras: make install)")
    port = _free_port()
    env = _server_env(migrated.database_url)
    process = subprocess.Popen(
        [str(PTA), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"pta serve exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("pta serve did not become ready in 30 s")
            time.sleep(0.2)
        yield Service(url, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def manager(service: Service, engine: AsyncEngine) -> str:
    """A manager made with the command line, as an operator would (emptied after each test)."""
    done = subprocess.run(
        [str(PTA), "users", "create", MANAGER, "--role", "manager", "--password-stdin"],
        input=MANAGER_PASSWORD + "\n",
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _day(delta: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=delta)).isoformat()


async def build_history(make: Factory, engine: AsyncEngine) -> None:
    """Five households with known milestone dates:
    A SLV 3: identified 2017-01-10, submitted USA 2017-03-01, in CRI 2017-04-01,
      resettled 2017-08-03
    B HND 2: identified 2017-02-01, submitted CAN 2017-05-01
    C GTM 1: identified 2018-01-01
    D SLV 4: identified 2019-12-01, submitted USA 2019-12-05, in CRI since 2019-12-20 (overstay)
    E HND 2: identified 200 days ago, submitted CAN 190 days ago, in CRI since 165 days ago
      (authorised for 180 days: ending within 30 days)
    """
    worker, boss = await make.user("caseworker"), await make.user("supervisor")
    usa, cri = (
        await make.user("resettlement_officer", "USA"),
        await make.user("transit_officer", "CRI"),
    )
    t = Timeline(engine, worker, boss)

    async def into_transit(case_id: Any, requested: str, entered: str) -> None:
        await t.act(worker, case_id, "request_transit", requested, transit_country="CRI")
        await t.act(cri, case_id, "authorise_transit", requested)
        await t.act(cri, case_id, "record_transit_entry", entered, entered_at=entered)

    a = await t.create("2017-01-10", 3, "SLV")
    await t.to_review(a, "2017-02-01")
    await t.submit(a, "2017-03-01", "USA")
    await into_transit(a, "2017-03-02", "2017-04-01")
    await t.act(usa, a, "decide", "2017-06-01", decision="accepted")
    await t.act(worker, a, "record_departure", "2017-08-01", departed_at="2017-08-01")
    await t.act(boss, a, "confirm_arrival", "2017-08-05", arrived_at="2017-08-03")

    b = await t.create("2017-02-01", 2, "HND")
    await t.to_review(b, "2017-03-01")
    await t.submit(b, "2017-05-01", "CAN")

    await t.create("2018-01-01", 1, "GTM")

    d = await t.create("2019-12-01", 4, "SLV")
    await t.to_review(d, "2019-12-02")
    await t.submit(d, "2019-12-05", "USA")
    await into_transit(d, "2019-12-06", "2019-12-20")

    e = await t.create(_day(-200), 2, "HND")
    await t.to_review(e, _day(-195))
    await t.submit(e, _day(-190), "CAN")
    await into_transit(e, _day(-189), _day(-165))


def as_number(text: str) -> int:
    digits = re.sub(r"\D", "", text)
    assert digits, f"no number in {text!r}"
    return int(digits)


async def read_funnel(page: Any) -> dict[str, Any]:
    """Every number the page shows for the funnel: table cells and SVG value labels."""
    cells = await page.eval_on_selector_all(
        "#funnel-body td[data-stage]",
        "nodes => nodes.map(n => [n.dataset.stage, n.dataset.measure, n.textContent])",
    )
    labels = await page.eval_on_selector_all(
        "#funnel-chart svg text.value",
        "nodes => nodes.map(n => [n.dataset.stage, n.dataset.measure, n.textContent])",
    )
    table = {(stage, measure): text for stage, measure, text in cells}
    return {
        "table": [
            (s, as_number(table[(s, "cases")]), as_number(table[(s, "people")]))
            for s in STAGES
            if (s, "cases") in table
        ],
        "chart": sorted((s, m, as_number(text)) for s, m, text in labels),
    }


def expected_funnel(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": [(s["stage"], s["cases"], s["people"]) for s in report["stages"]],
        "chart": sorted(
            (s["stage"], measure, s[measure])
            for s in report["stages"]
            for measure in ("cases", "people")
        ),
    }


async def read_trend(page: Any) -> dict[str, list[int]]:
    """The trend chart's points as a reader takes them off the chart: each point's height
    against the axis' 0 and its top label."""
    found: dict[str, list[int]] = await page.evaluate(
        """() => {
            const ticks = [...document.querySelectorAll('#trend-chart text.tick.y')]
                .map(n => [Number(n.textContent.replace(/\\D/g, '')), Number(n.getAttribute('y'))]);
            if (ticks.length < 2) return {};
            const [zero, top] = [ticks[0], ticks[ticks.length - 1]];
            const lines = {};
            for (const line of document.querySelectorAll('#trend-chart g[data-stage]')) {
                const value = c => (zero[1] - Number(c.getAttribute('cy')))
                    / (zero[1] - top[1]) * top[0];
                lines[line.dataset.stage] = [...line.querySelectorAll('circle')]
                    .map(c => Math.round(value(c)));
            }
            return lines;
        }"""
    )
    return found


async def eventually(read: Any, expected: Any, seconds: float = 10) -> Any:
    """Read the page until it shows ``expected`` (it renders asynchronously); return the last
    reading so the caller's assert shows the difference."""
    deadline = time.monotonic() + seconds
    while True:
        seen = await read()
        if seen == expected or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.1)


class Api:
    """The same service as the page, read directly with a manager's token."""

    def __init__(self, service: Service) -> None:
        self.service = service
        answer = httpx.post(
            f"{service.url}/api/v1/auth/token",
            data={"username": MANAGER, "password": MANAGER_PASSWORD},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def get(self, path: str, **params: str) -> httpx.Response:
        response = httpx.get(
            f"{self.service.url}{path}", params=params, headers=self.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response

    def funnel(self, **params: str) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/api/v1/reports/funnel", **params).json()
        return body


@pytest.fixture
async def browser(service: Service) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_dashboard_in_a_browser(
    service: Service, manager: str, browser: Any, make: Factory, engine: AsyncEngine, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    await build_history(make, engine)
    api = Api(service)
    today = datetime.now(UTC).date().isoformat()
    base = {"from": "2016-01-01", "to": today, "as_of": today, "basis": "cumulative"}
    whole = api.funnel(**base)
    # the history really is what the page should show (so the comparisons below mean something)
    assert expected_funnel(whole)["table"] == [
        ("identified", 5, 12),
        ("submitted", 4, 11),
        ("in_transit", 3, 9),
        ("resettled", 1, 3),
    ]

    context = await browser.new_context(locale="en-GB", base_url=service.url)
    page = await context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = await page.goto("/dashboard")
    assert response is not None and response.status == 200
    await expect(page.locator("#sign-in-heading")).to_have_text("Sign in")

    # every control has a label
    unlabelled = await page.eval_on_selector_all(
        "input, select", "nodes => nodes.filter(n => n.labels.length === 0).map(n => n.id)"
    )
    assert unlabelled == []

    # wrong password: a readable message, no dashboard
    await page.fill("#username", MANAGER)
    await page.fill("#password", "not-the-password-at-all")
    await page.click("#sign-in-button")
    await expect(page.locator("#sign-in-message")).to_have_text("Wrong username or password.")
    assert await page.locator("#dashboard-view").is_hidden()

    # sign in: the whole programme by default, numbers equal to the API's
    await page.fill("#password", MANAGER_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#dashboard-view")).to_be_visible()
    await expect(page.locator("#who")).to_contain_text(MANAGER)
    assert await page.input_value("#f-from") == "2016-01-01"
    assert await page.input_value("#f-to") == today
    shown = await eventually(lambda: read_funnel(page), expected_funnel(whole))
    assert shown == expected_funnel(whole)
    chart = page.locator("#funnel-chart svg")
    assert await chart.get_attribute("role") == "img"
    await expect(chart.locator("title")).to_have_text(re.compile("Funnel"))
    await expect(chart.locator("desc")).to_contain_text("Identified: 5 cases, 12 people.")
    await expect(chart.locator("text.stage-label")).to_have_count(4)

    # transit occupancy, as the API reports it
    transit = api.get("/api/v1/reports/transit").json()
    cri = next(c for c in transit["countries"] if c["transit_country"] == "CRI")
    assert (cri["households_in_transit"], cri["people_in_transit"], cri["overstays"]) == (2, 6, 1)
    assert (cri["capacity"], cri["ending_within_30_days"]) == (50, 1)
    await expect(page.locator("#transit-head th[data-country='CRI']")).to_have_text(
        "Costa Rica (CRI)"
    )

    async def cell(measure: str) -> str:
        found = page.locator(f"#transit-body td[data-country='CRI'][data-measure='{measure}']")
        text: str = await found.inner_text()
        return text

    assert as_number(await cell("households")) == cri["households_in_transit"]
    assert as_number(await cell("people")) == cri["people_in_transit"]
    assert as_number(await cell("capacity")) == cri["capacity"]
    assert (await cell("occupancy")).strip() == f"{round(cri['occupancy'] * 100)}%"
    assert as_number(await cell("ending_within_30_days")) == cri["ending_within_30_days"]
    assert as_number(await cell("overstays")) == cri["overstays"]

    # the token stays in memory: nothing in either storage
    token_like = await page.evaluate(
        "() => [...Object.values(localStorage), ...Object.values(sessionStorage)]"
        ".filter(v => v.split('.').length === 3)"
    )
    assert token_like == []

    # CSV of the current funnel: fetched with the token, saved through a blob
    async with page.expect_download() as waiting:
        await page.click("#download")
    download = await waiting.value
    saved = tmp_path / "funnel.csv"
    await download.save_as(saved)
    api_csv = api.get("/api/v1/reports/funnel", **base, format="csv")
    assert saved.read_bytes() == api_csv.content
    # the service's file name, which says what the file holds (basis, period, "as of")
    disposition = api_csv.headers["content-disposition"]
    assert download.suggested_filename == disposition.split('filename="')[1].rstrip('"')
    assert download.suggested_filename.startswith("pta-funnel_cumulative_2016-01-01-to-")

    # Spanish: labels translated, numbers unchanged
    await page.click("button[data-lang='es']")
    assert await page.get_attribute("html", "lang") == "es"
    await expect(page.locator("#funnel-heading")).to_have_text("Embudo de casos")
    await expect(page.locator("#funnel-head th")).to_have_text(["Etapa", "Casos", "Personas"])
    await expect(page.locator("#funnel-body th").first).to_have_text("Identificados")
    await expect(page.locator("label[for='f-origin']")).to_have_text("País de origen")
    await expect(page.locator("#transit-heading")).to_have_text("Ocupación en tránsito")
    await expect(chart.locator("desc")).to_contain_text("Identificados: 5 casos, 12 personas.")
    assert await read_funnel(page) == expected_funnel(whole)

    # a filter changes the numbers to the API's for that filter
    await page.fill("#f-origin", "slv")
    await page.click("#apply")
    salvador = api.funnel(**base, origin_country="SLV")
    assert expected_funnel(salvador) != expected_funnel(whole)
    shown = await eventually(lambda: read_funnel(page), expected_funnel(salvador))
    assert shown == expected_funnel(salvador)
    await expect(page.locator("#funnel-caption")).to_contain_text("SLV")

    # cohort, grouped by year: the groups in a table, with the median days
    await page.fill("#f-origin", "")
    await page.select_option("#f-basis", "cohort")
    await page.select_option("#f-group-by", "year")
    await page.click("#apply")
    cohort = api.funnel(**{**base, "basis": "cohort", "group_by": "year"})
    expected_groups = [
        (g["key"], s["stage"], s["cases"], s["people"], s["median_days"])
        for g in cohort["groups"]
        for s in g["stages"]
    ]
    assert {key for key, *_ in expected_groups} >= {"2017", "2018", "2019"}

    async def read_groups() -> list[tuple[Any, ...]]:
        rows = await page.eval_on_selector_all(
            "#groups-table tbody td[data-measure='cases']",
            """nodes => nodes.map(n => {
                const row = n.parentElement;
                const value = m => row.querySelector(`td[data-measure='${m}']`).textContent;
                return [n.dataset.group, n.dataset.stage, n.textContent, value('people'),
                        value('median_days')];
            })""",
        )
        return [
            (
                key,
                stage,
                as_number(c),
                as_number(p),
                None if m == "—" else float(m.replace(",", ".")),
            )
            for key, stage, c, p, m in rows
        ]

    rounded = [
        (k, s, c, p, None if m is None else round(m, 1)) for k, s, c, p, m in expected_groups
    ]
    assert await eventually(read_groups, rounded) == rounded
    await expect(page.locator("#funnel-head th")).to_have_count(4)  # the median column

    # along time the groups are a trend chart too: the people of each stage in each year, read
    # off the chart against its axis, are the API's (a year without a case is 0)
    years = [str(year) for year in range(2016, datetime.now(UTC).year + 1)]
    people = {(g["key"], s["stage"]): s["people"] for g in cohort["groups"] for s in g["stages"]}
    trend = {stage: [people.get((year, stage), 0) for year in years] for stage in STAGES}
    assert await eventually(lambda: read_trend(page), trend) == trend
    await expect(page.locator("#trend-chart text.tick.x")).to_have_text(years)
    await expect(page.locator("#trend-legend li")).to_have_text(
        ["Identificados", "Presentados", "En tránsito", "Reasentados"]
    )
    # the long table waits behind its summary; by country it is the only view, so open
    assert not await page.locator("#groups-details").evaluate("d => d.open")
    await expect(page.locator("#groups-summary")).to_have_text(
        f"Cifras por año ({len(cohort['groups'])} grupos)"
    )
    assert await read_funnel(page) == expected_funnel(cohort)

    # a bad filter answers a readable message (the API's 422), not a broken page
    await page.select_option("#f-basis", "cumulative")
    await page.select_option("#f-group-by", "")
    await page.fill("#f-origin", "ZZZ")
    await page.click("#apply")
    await expect(page.locator("#funnel-status")).to_have_text("Revise los filtros: País de origen.")

    # sign out: the figures leave the page
    await page.click("#sign-out")
    await expect(page.locator("#sign-in-view")).to_be_visible()
    assert await page.locator("#funnel-body td").count() == 0

    # too many failures: 429 read as a message with the wait
    for _ in range(5):
        await page.fill("#username", "nobody_here")
        await page.fill("#password", "wrong-password-again")
        await page.click("#sign-in-button")
        await expect(page.locator("#sign-in-message")).to_have_text(
            "Usuario o contraseña incorrectos."
        )
    await page.fill("#password", "wrong-password-again")
    await page.click("#sign-in-button")
    await expect(page.locator("#sign-in-message")).to_contain_text("Demasiados intentos fallidos")

    # nothing from outside the service, and no CSP violation or script error
    outside = [url for url in requests if not url.startswith((service.url, "blob:", "data:"))]
    assert outside == []
    expected_failures = "Failed to load resource: the server responded with a status of"
    assert [text for text in problems if not text.startswith(expected_failures)] == []
    await context.close()


async def test_spanish_on_first_load_by_accept_language(
    service: Service, manager: str, browser: Any
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(locale="es-CR", base_url=service.url)
    page = await context.new_page()
    await page.goto("/dashboard")
    assert await page.get_attribute("html", "lang") == "es"
    await expect(page.locator("#sign-in-heading")).to_have_text("Iniciar sesión")
    await expect(page.locator("label[for='username']")).to_have_text("Usuario")
    assert await page.get_attribute("button[data-lang='es']", "aria-pressed") == "true"
    await page.fill("#username", MANAGER)
    await page.fill("#password", MANAGER_PASSWORD)
    await page.click("#sign-in-button")
    # no one in transit, but the configured capacity is shown
    await expect(page.locator("#transit-head th[data-country='CRI']")).to_contain_text("CRI")
    await expect(page.locator("#transit-body th")).to_contain_text(["Hogares", "Personas"])
    await expect(page.locator("#transit-body tr[data-measure='capacity'] th")).to_have_text(
        "Capacidad"
    )
    empty_cri = page.locator("#transit-body td[data-country='CRI']")
    await expect(empty_cri).to_have_text(["0", "0", "50", "0 %", "0", "0"])
    await expect(page.locator("#funnel-head th")).to_have_text(["Etapa", "Casos", "Personas"])
    await context.close()


async def test_what_a_new_user_trips_over(
    service: Service, manager: str, browser: Any, make: Factory, engine: AsyncEngine
) -> None:
    """Fields are red only after someone typed; "As of" only on the cohort basis; shares of
    people identified only on the cohort basis; a bad country marked on its field; the
    in-country pathway explained; every scrollable table reachable by keyboard."""
    from playwright.async_api import expect

    await build_history(make, engine)
    context = await browser.new_context(locale="en-GB", base_url=service.url)
    page = await context.new_page()
    await page.goto("/dashboard")

    def border(selector: str) -> Any:
        return page.eval_on_selector(selector, "n => getComputedStyle(n).borderTopColor")

    untouched = await border("#username")
    await page.fill("#username", "x")
    await page.fill("#username", "")
    await page.focus("#password")
    assert await border("#username") != untouched  # red once typed into and left empty
    await page.fill("#username", MANAGER)
    await page.fill("#password", MANAGER_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#dashboard-view")).to_be_visible()

    await expect(page.locator("#funnel-chart svg text.value").first).to_be_visible()
    assert await page.is_disabled("#f-as-of")  # cumulative: "as of" does not apply
    await expect(page.locator("#funnel-chart tspan.rate")).to_have_count(0)
    await expect(page.locator("#in-country-note")).to_contain_text("in-country pathway")
    await page.select_option("#f-basis", "cohort")
    assert await page.is_enabled("#f-as-of")
    await page.click("#apply")
    await expect(page.locator("#funnel-chart tspan.rate")).to_have_count(3)

    await page.fill("#f-origin", "S1")
    await page.click("#apply")
    await expect(page.locator("#f-origin")).to_have_attribute("aria-invalid", "true")
    await page.fill("#f-origin", "SLV")
    await page.click("#apply")
    await expect(page.locator("#f-origin")).to_have_attribute("aria-invalid", "false")

    # grouped by country there is no trend chart: the groups' table is open at once
    await page.select_option("#f-group-by", "origin_country")
    await page.click("#apply")
    await expect(page.locator("#groups-table tbody[data-group='SLV']")).to_be_visible()
    assert await page.locator("#trend").is_hidden()

    wraps = await page.eval_on_selector_all(
        ".table-wrap",
        "nodes => nodes.map(n => [n.tabIndex, n.getAttribute('role'),"
        " document.getElementById(n.getAttribute('aria-labelledby'))?.id ?? null])",
    )
    assert len(wraps) == 3 and all(w[0] == 0 and w[1] == "region" and w[2] for w in wraps), wraps
    await context.close()


# ---------- accessibility (axe-core) and a phone's screen ----------

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # an iPhone 12–15's CSS pixels


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not tools.AXE.exists():
        tools.missing(
            f"axe-core is not at {tools.AXE.relative_to(tools.ROOT)}: make install "
            "(npm ci --prefix tests/browser)"
        )
    return tools.AXE.read_text(encoding="utf-8")


async def axe_violations(page: Any, axe_source: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # evaluated through the DevTools protocol: the page's own CSP stays as strict as served
        await page.evaluate(axe_source)
    result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
    ]


async def phone_problems(page: Any) -> list[str]:
    """What the issue found unusable at 390 px, measured in the page: a page that scrolls
    sideways, a table cut off at its scroll region's edge (the People column), chart text
    under 12 px as drawn on screen, or a chart sticking out of the screen."""
    problems: list[str] = await page.evaluate(
        """() => {
            const problems = [];
            const root = document.documentElement;
            const screen = root.clientWidth;
            if (root.scrollWidth > screen) problems.push(`page ${root.scrollWidth} px wide`);
            for (const wrap of document.querySelectorAll('.table-wrap')) {
                if (wrap.offsetParent === null) continue;  // not shown
                if (wrap.scrollWidth > wrap.clientWidth)
                    problems.push(`${wrap.querySelector('table').id}: ${wrap.scrollWidth} px`
                                  + ` in ${wrap.clientWidth}`);
            }
            for (const svg of document.querySelectorAll('svg[role=img]')) {
                const box = svg.getBoundingClientRect();
                if (box.width === 0) continue;
                const name = svg.getAttribute('class');
                if (box.left < 0 || box.right > screen) problems.push(`${name} off-screen`);
                for (const text of svg.querySelectorAll('text')) {
                    const scale = text.getScreenCTM().a;
                    const size = parseFloat(getComputedStyle(text).fontSize) * scale;
                    const said = `${name}: "${text.textContent}"`;
                    if (size < 12) problems.push(`${said} at ${size.toFixed(1)} px`);
                    const edge = text.getBoundingClientRect();
                    if (edge.left < 0 || edge.right > screen) problems.push(`${said} off-screen`);
                }
            }
            return problems;
        }"""
    )
    return problems


#: each language the dashboard offers, with what its trend chart's heading starts with
LANGUAGES = {
    "en-GB": ("en", "People identified in each month, by the stage"),
    "es-CR": ("es", "Personas identificadas en cada mes, según la etapa"),
}


async def test_accessible_and_usable_on_a_phone(
    service: Service,
    manager: str,
    browser: Any,
    make: Factory,
    engine: AsyncEngine,
    axe_source: str,
) -> None:
    """axe-core finds nothing, in both languages, on a desktop and at 390 px, in every state
    of the page: signing in (with an error shown), the funnel, a cohort grouped by month (its
    trend chart, its table opened) and a bad country marked on its field. At 390 px nothing
    scrolls sideways, no table is cut off and the charts' text is drawn at 12 px or more."""
    await build_history(make, engine)
    for locale, (language, trend_heading) in LANGUAGES.items():
        for viewport in (DESKTOP, PHONE):
            context = await browser.new_context(
                locale=locale, base_url=service.url, viewport=viewport
            )
            try:
                page = await context.new_page()
                await _every_state_of_the_page(
                    page, axe_source, language, trend_heading, phone=viewport == PHONE
                )
            finally:
                await context.close()


async def _every_state_of_the_page(
    page: Any, axe_source: str, language: str, trend_heading: str, phone: bool
) -> None:
    from playwright.async_api import expect

    where = f"{language} at {'390 px' if phone else 'desktop width'}"
    await page.goto("/dashboard")
    assert await page.get_attribute("html", "lang") == language

    async def check(state: str) -> None:
        assert await axe_violations(page, axe_source) == [], f"{where}: {state}"
        if phone:
            assert await phone_problems(page) == [], f"{where}: {state}"

    await page.fill("#username", "nobody_here")
    await page.fill("#password", "not-the-password-at-all")
    await page.click("#sign-in-button")
    await expect(page.locator("#sign-in-message")).to_have_class(re.compile(r"\berror\b"))
    await check("sign-in with an error")

    await page.fill("#username", MANAGER)
    await page.fill("#password", MANAGER_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#funnel-chart svg text.value").first).to_be_visible()
    await expect(page.locator("#transit-body td[data-country='CRI']").first).to_be_visible()
    await check("the funnel")

    await page.select_option("#f-basis", "cohort")
    await page.select_option("#f-group-by", "month")
    await page.click("#apply")
    trend = page.locator("#trend-chart svg")
    await expect(trend).to_be_visible()
    await expect(page.locator("#trend-heading")).to_contain_text(trend_heading)
    await expect(trend.locator("polyline")).to_have_count(len(STAGES))
    await expect(page.locator("#trend-legend li")).to_have_count(len(STAGES))
    assert await trend.locator("text.tick.x").count() >= 3  # years along the axis
    # a month's long table waits behind its summary, so the page stays a page
    assert not await page.locator("#groups-details").evaluate("d => d.open")
    if phone:
        height = await page.evaluate("() => document.documentElement.scrollHeight")
        assert height < 4000, f"{where}: {height} px"
        box = await trend.bounding_box()
        assert box is not None and box["width"] >= PHONE["width"] - 60  # the phone's width
    await page.click("#groups-summary")
    await expect(page.locator("#groups-table tbody").first).to_be_visible()
    await check("a cohort by month, its table open")

    await page.fill("#f-origin", "S1")
    await page.click("#apply")
    await expect(page.locator("#f-origin")).to_have_attribute("aria-invalid", "true")
    await check("a bad country")
