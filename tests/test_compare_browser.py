"""The comparison page in a real browser (Debian's chromium, launched as for /docs): opened from
disk with the network cut off, it logs no console error, asks for nothing outside its folder,
shows every chart, and leaves a screenshot in reports/."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.async_api import Browser, async_playwright

from compare import adapters, page, sources, targets
from tests.test_docs_browser import CHROMIUM, CHROMIUM_ARGS, REPORTS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "compare"
TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (Debian's chromium package; `make browser-deps`)",
    ),
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def fixture_page(tmp_path: Path) -> Path:
    directory = tmp_path / "reports"
    shutil.copytree(FIXTURES, directory, ignore=shutil.ignore_patterns("*.py"))
    return page.build(
        sources.load(directory),
        adapters.load(ROOT, targets.implementations()),
        directory / "index.html",
    )


def outside(urls: list[str], folder: Path) -> list[str]:
    """The URLs that are not files below `folder`."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme != "file"
        or not Path(unquote(urlsplit(url).path)).resolve().is_relative_to(folder)
    ]


@pytest.mark.parametrize("which", ["fixtures", "reports"])
async def test_page_opens_offline_with_every_chart(
    browser: Browser, tmp_path: Path, which: str
) -> None:
    if which == "fixtures":
        index = fixture_page(tmp_path)
        shot = REPORTS / "compare-screenshot.png"
    else:
        index = REPORTS / "index.html"
        if not index.exists():
            pytest.skip("no reports/index.html: `make compare` builds it")
        shot = REPORTS / "compare-screenshot-reports.png"
    folder = index.parent.resolve()
    context = await browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    tab = await context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    tab.on("request", lambda r: requests.append(r.url))
    await tab.goto(index.resolve().as_uri(), wait_until="load", timeout=TIMEOUT_MS)
    figures = tab.locator("figure[data-chart] img")
    count = await figures.count()
    assert count == len(list((index.parent / "charts").glob("*.svg")))
    if which == "fixtures":
        assert count >= 4
    for position in range(count):
        image = figures.nth(position)
        await image.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
        assert await image.is_visible()
        natural = await image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert natural[0], await image.get_attribute("src")
        assert natural[1] > 100, natural
        assert natural[2] > 50, natural
        box = await image.bounding_box()
        assert box is not None
        assert box["width"] > 100
    for section in ("glance", "conformance", "differ", "needed", "performance", "fuzzing"):
        assert await tab.locator(f"section#{section}").is_visible()
    # A failure opens to its first assertion line.
    failure = tab.locator("details.fail").first
    if await failure.count():
        await failure.locator("summary").click()
        assert await failure.locator("code").first.is_visible()
    await tab.screenshot(path=str(shot), full_page=True)
    await context.close()
    assert not errors
    assert not outside(requests, folder)
    assert any(url.endswith(".svg") for url in requests) or count == 0
    assert shot.stat().st_size > 10_000


def reference_page(tmp_path: Path) -> Path:
    """The page as `make compare` builds it on a fresh clone: no report of this machine's, so
    every section from compare/reference/."""
    directory = tmp_path / "reports"
    directory.mkdir()
    return page.build(
        sources.load(directory),
        adapters.load(ROOT, targets.implementations()),
        directory / "index.html",
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
@pytest.mark.parametrize("which", ["fixtures", "reference"])
async def test_page_fits_the_screen_and_opens_with_the_verdict(
    browser: Browser, tmp_path: Path, width: int, height: int, which: str
) -> None:
    """No horizontal page scroll at desktop and phone widths (wide tables scroll in their own
    box); the verdict is the first section and names every framework; nothing is asked for
    outside the page's folder. Both from the test fixtures and from the reference set a fresh
    clone shows, whose performance is labelled with its machine and date; the screenshots are
    reports/compare-<which>-<width>.png."""
    index = fixture_page(tmp_path) if which == "fixtures" else reference_page(tmp_path)
    folder = index.parent.resolve()
    context = await browser.new_context(offline=True, viewport={"width": width, "height": height})
    tab = await context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    await tab.goto(index.resolve().as_uri(), wait_until="load", timeout=TIMEOUT_MS)
    # Every <details> open: the widest state of the page must fit too.
    await tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    scroll = await tab.evaluate("document.documentElement.scrollWidth")
    client = await tab.evaluate("document.documentElement.clientWidth")
    assert scroll <= client <= width, (scroll, client)
    first = await tab.evaluate("document.querySelector('main section').id")
    assert first == "verdict"
    verdict = await tab.locator("section#verdict").inner_text()
    for target in targets.frameworks():
        assert target.name in verdict
    if which == "reference":
        meta = json.loads((ROOT / "compare" / "reference" / "meta.json").read_text())
        performance = await tab.locator("section#performance").inner_text()
        assert "the reference run shipped in the repository" in performance
        assert meta["machine"] in performance
        assert meta["date"] in performance
        assert "req/s" in verdict
    shot = REPORTS / f"compare-{which}-{width}.png"
    REPORTS.mkdir(exist_ok=True)
    await tab.screenshot(path=str(shot), full_page=True)
    await context.close()
    assert not outside(requests, folder)
    assert shot.stat().st_size > 10_000
