"""The web view in a real browser: Debian's Chromium driven by Playwright (`executable_path`, no
browser download) against `newswatch web` serving a database filled by a crawl of the local
portal. Skips, saying why, without Chromium; fails instead with NEWSWATCH_REQUIRE_BROWSER=1
(set by .ci/run). Screenshots at 390 and 1280 px go to test-screenshots/ (README, "Web view")."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from pipelines.digest.links import IRRELEVANT, sign
from tests.portal.server import Portal
from tests.web_site import HOSTILE_TITLE, SECRET, TOPIC, Site, build_site, serving

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("NEWSWATCH_SCREENSHOTS") or ROOT / "test-screenshots")
REQUIRED = os.environ.get("NEWSWATCH_REQUIRE_BROWSER") == "1"
WIDTHS = (390, 1280)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        why = ("no Chromium: apt-get install chromium (and pip install -e '.[test]' for "
               "Playwright); .ci/run does both")
        if REQUIRED:
            pytest.fail(f"NEWSWATCH_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, portal: Portal) -> Iterator[Site]:
    _chromium()
    built, port = build_site(tmp_path_factory.mktemp("web-browser"), portal)
    with serving(built.config, port):
        yield built


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # As root (CI containers) Chromium refuses its sandbox; the pages are our own.
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        launched = driver.chromium.launch(executable_path=_chromium(), args=args)
        yield launched
        launched.close()


class Tab:
    """A page that records what would betray a script: console errors, dialogs, page errors."""

    def __init__(self, browser: Any, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.troubles: list[str] = []
        self.allowed: list[str] = []  # messages a test expects (a refused page's own status)
        self.page.on("console", lambda m: self.troubles.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.troubles.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.troubles.append(f"dialog: {d.message}"), d.dismiss()))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        self.page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.context.close()
    troubles = [t for t in opened.troubles if not any(a in t for a in opened.allowed)]
    assert not troubles, f"the browser reported: {troubles}"


def _matches(site: Site, **params: str) -> list[dict[str, Any]]:
    return httpx.get(f"{site.url}/api/matches", params=params).json()


def test_matches_filter_by_source_and_search(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{site.url}/matches")
    assert page.locator("li.row").count() == len(_matches(site))
    page.select_option("select[name=source]", "kr")
    page.click("#filters button[type=submit]")
    sources = page.locator("li.row .source").all_inner_texts()
    assert sources and set(sources) == {"kr"}
    korean = _matches(site, source="kr")[0]["title"]
    word = re.findall(r"[가-힣A-Za-z]{3,}", korean)[-1]
    page.fill("input[name=search]", word)
    page.click("#filters button[type=submit]")
    titles = page.locator("li.row a.title").all_inner_texts()
    # A search reads title and text: the rows are the API's for the same filters.
    assert korean in titles
    assert titles == [row["title"] for row in _matches(site, source="kr", search=word)]
    assert f"search={word}" in unquote(page.url)
    tab.shot("matches-filtered")


def test_an_article_shows_its_evidence_highlighted(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{site.url}/matches?source=wire")
    page.locator("li.row a.title").first.click()
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    marks = page.locator("#title mark, #body mark").all_inner_texts()
    assert marks, "no evidence marked on the article page"
    assert page.locator(".topic-score .verdict.match").count() == 1
    assert page.locator(".reasons tr").count() >= len(set(marks)) - 1
    tab.shot("article")


def test_not_relevant_shows_the_label_and_the_score_change(site: Site, tab: Tab) -> None:
    page = tab.page
    target = _matches(site, source="wire")[-1]
    page.goto(f"{site.url}/articles/{target['id']}")
    before = page.locator(f".topic-score[data-topic='{TOPIC}'] .score").inner_text()
    page.locator(f".topic-score[data-topic='{TOPIC}'] button.no").click()
    page.wait_for_selector("#judged")
    judged = page.locator("#judged").inner_text()
    assert "not relevant" in judged
    assert f"Match score {before} → no longer a match" in judged
    block = page.locator(f".topic-score[data-topic='{TOPIC}']")
    assert "labelled irrelevant" in block.inner_text()
    assert block.locator(".verdict.nomatch").count() == 1
    assert target["id"] not in [row["id"] for row in _matches(site)]
    tab.shot("judged")


def test_a_digest_link_confirms_then_undoes(site: Site, tab: Tab) -> None:
    page = tab.page
    link = re.findall(rf"{re.escape(site.url)}/d/\S+", site.digest_text)[0]
    token = unquote(link.rsplit("/", 1)[1])
    page.goto(link)
    assert page.locator("#confirm").is_visible()
    tab.shot("digest-link")
    page.click("#confirm")
    assert "labelled not relevant" in page.locator("#done").inner_text()
    article = int(page.locator("#done a").get_attribute("href").rsplit("/", 1)[1])
    assert httpx.get(f"{site.url}/api/articles/{article}").json()["labels"] == {TOPIC: False}
    page.click("#undo")
    assert "back as it was" in page.locator("#undone").inner_text()
    assert httpx.get(f"{site.url}/api/articles/{article}").json()["labels"] == {}
    assert token  # the same link still confirms (nothing is used up), until it expires


def test_altered_and_expired_links_are_refused(site: Site, tab: Tab) -> None:
    page = tab.page
    tab.allowed.append("status of 403 (Forbidden)")  # the refusal page's own status
    link = re.findall(rf"{re.escape(site.url)}/d/\S+", site.digest_text)[0]
    payload, mac = unquote(link.rsplit("/", 1)[1]).split(".")
    altered = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    page.goto(f"{site.url}/d/{altered}")
    assert page.locator("#refused").is_visible() and page.locator("#confirm").count() == 0
    article = _matches(site)[0]["id"]
    expired = sign(SECRET.encode(), article, TOPIC, IRRELEVANT, datetime.now(UTC) - timedelta(hours=1))
    response = page.goto(f"{site.url}/d/{expired}")
    assert response is not None and response.status == 403
    assert "expired" in page.locator("#refused").inner_text()
    tab.shot("link-refused")


def test_a_script_in_a_title_is_shown_as_text_and_runs_nothing(site: Site, tab: Tab) -> None:
    page = tab.page
    (hostile,) = [row for row in _matches(site) if "<script>" in (row["title"] or "")]
    response = page.goto(f"{site.url}/articles/{hostile['id']}")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert page.title() != "pwned" and "<script>" in page.title()
    assert page.locator("#title").inner_text() == HOSTILE_TITLE
    assert page.locator("article script").count() == 0
    page.goto(f"{site.url}/matches")
    assert page.title() != "pwned"
    assert HOSTILE_TITLE in page.locator("li.row a.title").all_inner_texts()
    assert page.locator("script").count() == 0
    tab.shot("hostile-title")
    # `tab` asserts at teardown that the console saw no error (a refused inline script would
    # be one) and that no dialog opened.


@pytest.mark.parametrize("width", WIDTHS)
def test_the_layout_fits_a_phone_and_a_desk(site: Site, browser: Any, width: int) -> None:
    wide = Tab(browser, width)
    try:
        article = _matches(site)[0]["id"]
        for name, path in (("matches", "/matches"), ("article-page", f"/articles/{article}"),
                           ("sources", "/sources"), ("digests", "/digests"), ("explain", "/explain")):
            wide.page.goto(f"{site.url}{path}")
            overflow = wide.page.evaluate("document.documentElement.scrollWidth")
            if name != "sources":  # the sources table scrolls inside its own box
                assert overflow <= width, f"{path} is {overflow}px wide at {width}px"
            wide.shot(name)
        wide.page.goto(f"{site.url}/sources")
        assert wide.page.locator("svg.chart rect").count() == 28 * 3
        assert not wide.troubles, wide.troubles
    finally:
        wide.context.close()
