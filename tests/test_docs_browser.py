"""The interactive docs in a real browser (CONTRACT.md "Interactive docs"): headless Chromium on
/docs of each implementation under uvicorn runs the tutorial's own check, Authorize as johndoe
with only `me`, then /users/me/ answers 200 and /users/me/items/ 401, all from local assets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Locator, Page, Response, async_playwright

from conformance.servers import IMPLEMENTATIONS, Server, serve
from core import registry

CHROMIUM = Path("/usr/bin/chromium")
#: What keeps Chromium quiet and local: no sandbox (root in CI), no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPORTS = Path(__file__).resolve().parents[1] / "reports"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SCHEME = "OAuth2PasswordBearer"
TIMEOUT_MS = 15_000

AVAILABLE = registry.importable(IMPLEMENTATIONS)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (Debian's chromium package; `make browser-deps`)",
    ),
]


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    url: str
    status: int
    body: str | None


@pytest.fixture(scope="module", params=AVAILABLE)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def operation(page: Page, path: str) -> Locator:
    """The GET block of `path` (matched on its exact path, not on an operationId)."""
    return page.locator(".opblock.opblock-get").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )


async def try_it_out(page: Page, path: str) -> Locator:
    """Expand the operation, press "Try it out" then "Execute"; the live response row."""
    block = operation(page, path)
    await block.locator(".opblock-summary-control").click()
    await block.locator("button.try-out__btn").click()
    async with page.expect_response(lambda r: urlsplit(r.url).path == path):
        await block.locator("button.execute").click()
    row = block.locator(".live-responses-table .response").first
    await row.locator(".response-col_status").wait_for()
    return row


async def test_docs_authorize_me_only_then_try_it_out(server: Server, browser: Browser) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    exchanges: list[Exchange] = []
    page.on("request", lambda request: requested.append(request.url))

    async def record(response: Response) -> None:
        request = response.request
        exchanges.append(Exchange(request.method, response.url, response.status, request.post_data))

    page.on("response", record)
    try:
        await page.goto(f"{server.url}/docs")
        await page.locator(".swagger-ui .information-container .title").wait_for()
        await operation(page, "/users/me/items/").wait_for()

        await page.locator(".auth-wrapper button.authorize").click()
        dialog = page.locator(".modal-ux")
        await dialog.locator("#oauth_username").fill("johndoe")
        await dialog.locator("#oauth_password").fill("secret")
        await dialog.locator(f'label[for="me-password-checkbox-{SCHEME}"]').click()
        assert await dialog.locator(f"#me-password-checkbox-{SCHEME}").is_checked()
        assert not await dialog.locator(f"#items-password-checkbox-{SCHEME}").is_checked()
        async with page.expect_response(lambda r: urlsplit(r.url).path == "/token") as login:
            await dialog.locator(".auth-btn-wrapper button.authorize").click()
        assert (await login.value).status == 200
        await dialog.locator("h6", has_text="Authorized").wait_for()
        await dialog.locator("button", has_text="Logout").wait_for()
        await dialog.locator("button.btn-done").click()
        await dialog.wait_for(state="detached")

        me = await try_it_out(page, "/users/me/")
        assert (await me.locator(".response-col_status").inner_text()).strip() == "200"
        assert '"username": "johndoe"' in await me.locator(".microlight").first.inner_text()

        items = await try_it_out(page, "/users/me/items/")
        assert (await items.locator(".response-col_status").inner_text()).strip() == "401"
        assert "Not enough permissions" in await items.locator(".microlight").first.inner_text()

        REPORTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(REPORTS / f"docs-{server.name}.png"), full_page=True)
    finally:
        await context.close()

    # What the browser really sent: the password flow with scope "me" only, then the two calls.
    token_calls = [e for e in exchanges if urlsplit(e.url).path == "/token"]
    assert len(token_calls) == 1
    form = parse_qs(token_calls[0].body or "")
    assert (token_calls[0].method, token_calls[0].status) == ("POST", 200)
    assert form["grant_type"] == ["password"]
    assert form["username"] == ["johndoe"]
    assert form["scope"] == ["me"]
    api_calls = [(e.method, urlsplit(e.url).path, e.status) for e in exchanges]
    assert ("GET", "/users/me/", 200) in api_calls
    assert ("GET", "/users/me/items/", 401) in api_calls
    # Swagger UI came from the server's own assets: nothing left the loopback interface.
    remote = [url for url in requested if urlsplit(url).scheme in {"http", "https", "ws", "wss"}]
    assert remote, "the page made no HTTP request at all"
    assert {urlsplit(url).hostname for url in remote} <= LOOPBACK, remote
    assert not [url for url in requested if urlsplit(url).scheme not in {"http", "data", "blob"}]
