"""Finding a source from a site's address (crawler/discovery/discover.py, `sources add`) and trying one
without storing anything (crawler/discovery/source_check.py, `sources test`), against the local portal."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text

from crawler.config import CrawlConfig, load_config
from crawler.discovery.discover import COMMON_PATH, LINK_ALTERNATE, LISTING, ROBOTS_SITEMAP, discover
from crawler.discovery.polite_fetch import FetchRefused, PoliteFetcher
from scheduler import cli
from tests import databases
from tests.conftest import newswatch, write_config
from tests.portal.server import Portal

CRAWL = CrawlConfig(timeout=3, download_delay=0, max_page_bytes=5_000_000)


def run(config: Path, *args: str, expect: int = 0, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={}, input=input)
    assert result.exit_code == expect, f"newswatch {' '.join(args)}:\n{result.output}"
    assert "Traceback" not in result.output
    return result.output


def paths(portal: Portal, urls: list[str]) -> list[str]:
    return [u.removeprefix(portal.url) for u in urls]


# -- discovery -----------------------------------------------------------------------------------


def test_a_page_with_feed_links_proposes_its_newest_feed_on_the_site(fresh_portal: Portal) -> None:
    found = discover(fresh_portal.url_for("/discover/feeds/"), CRAWL)
    best = found.best
    assert best is not None and best.kind == "feed" and best.found_by == LINK_ALTERNATE
    assert best.url == fresh_portal.url_for("/discover/feeds/rss.xml")
    assert paths(fresh_portal, [c.url for c in best.items]) == [
        "/kr/article/1003", "/kr/article/1002", "/kr/article/1001"]
    assert best.newest is not None and best.newest.isoformat() == "2024-05-28T14:03:00+09:00"
    # The older feed ranks lower; the partner feed (every item on another site) is not proposed.
    assert [p.url for p in found.proposals[1:]] == [fresh_portal.url_for("/discover/feeds/columns.atom")]
    why = {r.url.removeprefix(fresh_portal.url): r.why for r in found.rejected}
    assert why["/discover/feeds/partners.xml"] == "no article links on the site (1 elsewhere)"
    assert "site-wide" in why["/news/sitemap_index.xml"]
    # A page that names its feeds gets no guessed paths; nothing off the site is ever asked for.
    assert not any(r.found_by == COMMON_PATH for r in found.rejected)
    assert fresh_portal.count("/discover/feeds/rss.xml") == 1, "each candidate is fetched once"
    assert all(u.startswith(fresh_portal.url) for u in found.requested)


def test_a_home_page_with_only_a_robots_sitemap_proposes_the_news_sitemap(fresh_portal: Portal) -> None:
    found = discover(fresh_portal.url + "/", CRAWL)
    best = found.best
    assert best is not None and best.kind == "sitemap" and best.found_by == ROBOTS_SITEMAP
    assert best.url == fresh_portal.url_for("/news/sitemap_index.xml")
    assert best.news_sitemap, "the index's child is a Google News sitemap"
    assert {c.title for c in best.items} >= {"Heatwave pushes India's power demand to record high"}
    assert len(found.proposals) == 1
    assert {r.found_by for r in found.rejected} == {COMMON_PATH}


def test_a_section_page_gets_the_site_sitemap_only_when_it_carries_its_articles(
        fresh_portal: Portal) -> None:
    found = discover(fresh_portal.url_for("/discover/sitemaps/"), CRAWL)
    assert found.best is not None and found.best.found_by == ROBOTS_SITEMAP
    assert found.best.url == fresh_portal.url_for("/news/sitemap_index.xml")


def test_a_listing_without_feeds_gets_a_links_selector(fresh_portal: Portal) -> None:
    found = discover(fresh_portal.url_for("/discover/listing/"), CRAWL)
    best = found.best
    assert best is not None and best.kind == "listing" and best.found_by == LISTING
    assert best.links == "h2.headline a"
    assert paths(fresh_portal, [c.url for c in best.items]) == [
        f"/en/article/{slug}" for slug in ("australia-ai-research-institutes",
                                           "norrland-semiconductor-results",
                                           "open-model-maths-benchmark", "harbour-tram-extension")]
    entry = best.entry("ledger", "en")
    assert entry == {"name": "ledger", "listing": fresh_portal.url_for("/discover/listing/"),
                     "links": "h2.headline a", "language": "en"}


def test_a_feed_address_is_its_own_proposal(fresh_portal: Portal) -> None:
    found = discover(fresh_portal.url_for("/en/atom.xml"), CRAWL)
    assert found.best is not None and found.best.kind == "feed"
    assert found.best.url == fresh_portal.url_for("/en/atom.xml")
    assert found.requested == [fresh_portal.url_for("/robots.txt"), fresh_portal.url_for("/en/atom.xml")]


def test_discovery_fetches_are_bounded_and_robots_aware(fresh_portal: Portal) -> None:
    fetcher = PoliteFetcher(CrawlConfig(timeout=3, download_delay=0, max_page_bytes=100_000), ["127.0.0.1"])
    with pytest.raises(FetchRefused, match="forbids newswatch"):
        fetcher.get(fresh_portal.url_for("/private/kr/article/9001"))
    with pytest.raises(FetchRefused, match=r"more than crawl.max_page_bytes \(100000"):
        fetcher.get(fresh_portal.url_for("/fault/huge/article"))
    with pytest.raises(FetchRefused, match="another site"):
        fetcher.get("http://offsite.example/news/view.php?id=8812")
    with pytest.raises(FetchRefused, match="only http"):
        fetcher.get("file:///etc/passwd")
    assert fresh_portal.count("/private/") == 0
    fresh_portal.set_state(slow_delay=5)
    with pytest.raises(FetchRefused, match="could not fetch"):
        slow = PoliteFetcher(CrawlConfig(timeout=0.5, download_delay=0), ["127.0.0.1"])
        slow.get(fresh_portal.url_for("/fault/slow.xml"))


def test_a_redirect_to_another_site_is_not_followed(fresh_portal: Portal) -> None:
    from tests.portal.server import Reply

    fresh_portal.route("/discover/moved/", lambda _p, _h: Reply(
        301, b"", {"Location": "http://offsite.example/", "Content-Length": "0"}))
    with pytest.raises(FetchRefused, match="another site"):
        PoliteFetcher(CRAWL, ["127.0.0.1"]).get(fresh_portal.url_for("/discover/moved/"))


# -- sources add ---------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, portal: Portal) -> Path:
    path = write_config(tmp_path, [{"name": "kr", "feed": portal.url_for("/kr/rss.xml"),
                                    "language": "ko"}])
    text_ = path.read_text(encoding="utf-8")
    path.write_text("# my sources, hand-written\n" + text_.replace(
        "[[sources]]", "# the Korean portal\n[[sources]]"), encoding="utf-8")
    return path


def test_sources_add_shows_what_it_would_store_and_saves_with_yes(config: Path,
                                                                   fresh_portal: Portal) -> None:
    before = config.read_text(encoding="utf-8")
    output = run(config, "sources", "add", fresh_portal.url_for("/discover/feeds/"), "--name", "bell",
                 "--language", "ko", "--yes")
    assert f"proposed: feed {fresh_portal.url_for('/discover/feeds/rss.xml')}" in output
    assert "found by <link rel=\"alternate\">" in output
    assert "robots.txt: allowed for newswatch" in output
    assert "2024-05-28T14:03+09:00 한빛모터스 ‘그랑테라 하이브리드’ 사전계약 1만2000대 돌파" in output
    # Two sample articles, extracted as the clean stage would.
    assert output.count("      title: ") == 2
    assert "text: 713 characters" in output
    assert 'added source "bell"' in output
    after = config.read_text(encoding="utf-8")
    assert after.startswith(before), "the existing config is kept byte for byte"
    assert "# my sources, hand-written" in after and "# the Korean portal" in after
    bell = load_config(config).source("bell")
    assert (bell.feed, bell.language) == (fresh_portal.url_for("/discover/feeds/rss.xml"), "ko")


def test_sources_add_asks_and_a_no_writes_nothing(config: Path, fresh_portal: Portal) -> None:
    before = config.read_text(encoding="utf-8")
    output = run(config, "sources", "add", fresh_portal.url_for("/discover/listing/"), input="n\n")
    assert 'links selector: h2.headline a' in output
    assert "[[sources]]\nname = \"127.0.0.1\"" in output, "the name defaults from the host"
    assert "not added" in output
    assert config.read_text(encoding="utf-8") == before


def test_sources_add_listing_then_crawl_follows_the_proposed_links(config: Path,
                                                                    fresh_portal: Portal) -> None:
    run(config, "sources", "add", fresh_portal.url_for("/discover/listing/"), "--name", "ledger",
        "--yes")
    assert load_config(config).source("ledger").links == "h2.headline a"
    fresh_portal.reset()
    result = newswatch(config, "crawl", "--source", "ledger", "--format", "json")
    rows = json.loads(result.stdout)
    assert rows[0]["source"] == "ledger" and rows[0]["new_articles"] == 4
    assert fresh_portal.count("/en/features/") == 0, "the most-read box is not followed"


def test_sources_add_json(config: Path, fresh_portal: Portal) -> None:
    output = run(config, "sources", "add", fresh_portal.url + "/", "--name", "wire", "--format", "json",
                 input="n\n")
    data = json.loads(output[: output.rindex("}") + 1])
    assert data["entry"] == {"name": "wire", "sitemap": fresh_portal.url_for("/news/sitemap_index.xml")}
    assert data["proposals"][0]["news_sitemap"] is True
    assert data["robots"]["allowed"] is True
    assert len(data["samples"]) == 2


@pytest.mark.parametrize(("args", "words"), [
    (["ftp://example.org/"], "is not an http(s) address"),
    (["{url}", "--name", "kr"], 'a source named "kr" is already in'),
    (["{url}", "--language", "korean"], "is not a two-letter language code"),
])
def test_sources_add_refuses_bad_input_with_exit_2(config: Path, portal: Portal, args: list[str],
                                                   words: str) -> None:
    before = config.read_text(encoding="utf-8")
    args = [a.replace("{url}", portal.url_for("/discover/feeds/")) for a in args]
    output = run(config, "sources", "add", *args, "--yes", expect=2)
    assert words in output
    assert config.read_text(encoding="utf-8") == before


def test_sources_add_on_a_page_robots_forbids_says_so(config: Path, portal: Portal) -> None:
    output = run(config, "sources", "add", portal.url_for("/private/kr/"), "--yes", expect=1)
    assert "robots.txt of" in output and "forbids newswatch" in output


def test_the_listing_command_still_lists(config: Path) -> None:
    rows = json.loads(run(config, "sources", "--format", "json"))
    assert [r["name"] for r in rows] == ["kr"]


# -- sources test --------------------------------------------------------------------------------


def _snapshot(url: str) -> dict[str, Any]:
    """Every row of every table: what a command that stores nothing must leave as it was."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            return {t: connection.execute(select(text("*")).select_from(text(t))).all() for t in tables}
    finally:
        engine.dispose()


def test_sources_test_stores_nothing_and_says_what_is_new(config: Path, fresh_portal: Portal) -> None:
    newswatch(config, "crawl")
    url = load_config(config).database_url
    before = _snapshot(url)
    fresh_portal.set_state(feed_changed=True)
    fresh_portal.reset()
    output = run(config, "sources", "test", "kr", "--articles", "1")
    # 1007 is new; the robots-forbidden 9001 is never fetched, so never stored: new, and said so.
    assert "index: 7 links; 5 already stored; 2 new" in output, output
    assert fresh_portal.url_for("/kr/article/1007") in output
    assert "9001  (forbidden by robots.txt: not fetched)" in output
    assert "topic ai-research-policy: MATCH" in output, "the new article is scored"
    assert _snapshot(url) == before, "sources test changed the database"
    assert fresh_portal.count("/kr/article/100") == 1, "only the sample article was fetched"
    assert fresh_portal.count("/private/") == 0


def test_sources_test_without_a_database_creates_none(config: Path, fresh_portal: Portal) -> None:
    data = json.loads(run(config, "sources", "test", "kr", "--articles", "0", "--format", "json"))
    assert data["store_read"] is False and len(data["new"]) == 6
    assert data["forbidden_by_robots"] == [fresh_portal.url_for("/private/kr/article/9001")]
    if not databases.ON_POSTGRES:
        assert not (config.parent / "newswatch.db").exists()


def test_sources_test_a_url_tries_the_proposal(config: Path, fresh_portal: Portal) -> None:
    output = run(config, "sources", "test", fresh_portal.url_for("/discover/listing/"), "--articles", "0")
    assert "source: 127.0.0.1 (listing" in output
    assert "index: 4 links; 0 already stored; 4 new" in output


def test_sources_test_an_unknown_name_exits_2(config: Path) -> None:
    output = run(config, "sources", "test", "nope", expect=2)
    assert "no source named 'nope' (sources: kr)" in output


def test_added_entry_is_well_formed_toml(config: Path, fresh_portal: Portal) -> None:
    run(config, "sources", "add", fresh_portal.url_for("/discover/feeds/"), "--name", "bell", "--yes")
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert data["sources"][-1] == {"name": "bell", "feed": fresh_portal.url_for("/discover/feeds/rss.xml")}


def test_sources_test_follows_a_sitemap_index_as_a_round_does(config: Path, fresh_portal: Portal) -> None:
    data = json.loads(run(config, "sources", "test", fresh_portal.url + "/", "--articles", "1",
                          "--format", "json"))
    assert data["kind"] == "sitemap"
    assert paths(fresh_portal, data["index_urls"]) == ["/news/sitemap_index.xml", "/news/sitemap-news.xml"]
    assert len(data["new"]) == 3 and len(data["articles"]) == 1
    assert data["articles"][0]["chars"] > 0, "the sample article's text came out"


def test_the_selector_is_the_main_list_not_the_menu_or_the_most_read_box(fresh_portal: Portal) -> None:
    from crawler.discovery.link_pattern import propose_links

    page = PoliteFetcher(CRAWL, ["127.0.0.1"]).get(fresh_portal.url_for("/en/")).response()
    proposed = propose_links(page, ["127.0.0.1"])  # type: ignore[arg-type]
    assert proposed is not None and proposed.selector == "a.teaser-link"
    assert len(proposed.links) == 4


def test_a_sitemap_that_expands_past_the_page_limit_is_refused_in_the_reader_s_words(
        fresh_portal: Portal) -> None:
    import gzip

    bomb = gzip.compress(b'<?xml version="1.0"?><urlset>' + b" " * 300_000 + b"</urlset>")
    fresh_portal.serve("/discover/bomb/sitemap.xml.gz", bomb, content_type="application/x-gzip")
    fresh_portal.serve("/discover/bomb/", '<html><head><link rel="alternate" type="application/xml" '
                       'href="/discover/bomb/sitemap.xml.gz"></head><body></body></html>')
    found = discover(fresh_portal.url_for("/discover/bomb/"),
                     CrawlConfig(timeout=3, download_delay=0, max_page_bytes=100_000))
    why = {r.url.removeprefix(fresh_portal.url): r.why for r in found.rejected}
    assert "expands past crawl.max_page_bytes" in why["/discover/bomb/sitemap.xml.gz"]


def test_requests_are_spaced_by_the_download_delay(fresh_portal: Portal) -> None:
    fetcher = PoliteFetcher(CrawlConfig(timeout=3, download_delay=0.3), ["127.0.0.1"])
    fetcher.get(fresh_portal.url_for("/kr/rss.xml"))
    fetcher.get(fresh_portal.url_for("/en/atom.xml"))
    times = [r.time for r in fresh_portal.requests()]
    assert len(times) == 3  # robots.txt, then the two
    assert all(later - earlier >= 0.29 for earlier, later in itertools.pairwise(times))


def test_text_from_the_site_is_escaped_when_shown(config: Path, fresh_portal: Portal) -> None:
    fresh_portal.serve("/discover/evil/rss.xml", (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        "<item><title>Owned \x1b[2J\x1b]0;pwned\x07 title</title><link>{base}/kr/article/1001</link>"
        "<pubDate>Tue, 28 May 2024 10:30:00 +0900</pubDate></item></channel></rss>"),
        content_type="application/rss+xml")
    output = run(config, "sources", "add", fresh_portal.url_for("/discover/evil/rss.xml"),
                 "--name", "evil", input="n\n")
    assert "\x1b" not in output and "\x07" not in output
    assert "Owned \\x1b[2J\\x1b]0;pwned\\x07 title" in output
