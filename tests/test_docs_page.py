"""``/docs`` as a new user meets it: served whole by the service (an office without internet
sees it), under the dashboard's strict Content-Security-Policy, and its Authorize button signs
in with a username and password (the OAuth2 password flow) — in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.api.docs import ASSETS, OURS
from tests.test_dashboard import (  # noqa: F401 (fixtures)
    MANAGER,
    MANAGER_PASSWORD,
    Service,
    browser,
    manager,
    service,
)


async def test_docs_page_loads_only_its_own_files_under_a_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert "unsafe" not in csp and directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"  # Swagger UI's icons; nothing else differs
    html = page.text
    assert "<style" not in html and "style=" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("docs/") for source in sources), sources
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="docs/swagger-ui-bundle.js" defer>',
        '<script src="docs/docs.js" defer>',
    ]
    for name, (media_type, _) in ASSETS.items():
        asset = await client.get(f"/docs/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"] == media_type, name
        assert asset.headers["content-security-policy"] == csp
    assert len((await client.get("/docs/swagger-ui-bundle.js")).content) > 500_000  # the real one
    for missing in ("/docs/index.html", "/docs/oauth2-redirect.html", "/docs/..%2Fmain.py"):
        assert (await client.get(missing)).status_code == 404, missing
    for path in OURS.iterdir():
        assert not re.search(r"https?://", path.read_text()), path.name


async def test_openapi_declares_the_password_flow(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"] == {
        "password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}
    }
    assert schemes["HTTPBearer"]["scheme"] == "bearer"  # a token pasted as it is still works
    me = schema["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"OAuth2Password": []}, {"HTTPBearer": []}]


async def test_authorize_signs_in_with_username_and_password_offline(
    service: Service,  # noqa: F811 (the fixtures imported above)
    manager: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    from playwright.async_api import Route, expect

    context = await browser.new_context(base_url=service.url)
    outside: list[str] = []
    problems: list[str] = []

    async def only_the_service(route: Route) -> None:
        if route.request.url.startswith(service.url):
            await route.continue_()
        else:  # as in an office without internet: anything else fails
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_service)
    page = await context.new_page()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("PTA case service")

    await page.click("button.authorize")
    dialog = page.locator(".modal-ux")
    await dialog.locator("#oauth_username").fill(MANAGER)
    await dialog.locator("#oauth_password").fill(MANAGER_PASSWORD)
    await dialog.locator("button.authorize").first.click()
    await expect(dialog.get_by_role("heading", name="Authorized", exact=True)).to_be_visible()
    await dialog.locator("button.close-modal").first.click()

    operation = page.locator(".opblock-get").filter(
        has=page.locator(".opblock-summary-path[data-path='/api/v1/me']")
    )
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    answer = operation.locator(".live-responses-table tbody tr").first
    await expect(answer.locator("td").first).to_have_text("200")
    await expect(answer).to_contain_text(f'"username": "{MANAGER}"')
    assert outside == []
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    await context.close()
