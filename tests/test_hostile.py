"""A hostile portal: pages, feeds and sitemaps that lie, loop or explode, crawled for real."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.conftest import newswatch, write_config
from tests.portal.server import PAGES_DIR, Portal, Reply
from tests.waiting import wait_for

# Marked `postgres` (run on PostgreSQL too, tests/databases.py): the tests whose outcome is in the
# store's rows (who owns a canonical URL; a round killed mid-write, its lock and run closed).

KOREAN_LEAD = "글로벌 AI 프론티어랩(Global AI Frontier Lab)을 미국 뉴욕대(NYU)에 구축한다고 28일 밝혔다"


def rss(*links: str, title: str = "Hostile feed") -> str:
    """A plain RSS 2.0 feed of these article links ({base}/{other} are filled in by the portal)."""
    items = "".join(f"<item><title>Story {n}</title><link>{link}</link>"
                    f"<pubDate>Tue, 28 May 2024 0{n}:00:00 GMT</pubDate></item>"
                    for n, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}'
            f"</title><link>{{base}}/</link>{items}</channel></rss>")


def portal_page(path: str) -> str:
    return (PAGES_DIR / path).read_text("utf-8")


def rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the crawl's database (SQLite or PostgreSQL); none while it is not created yet."""
    return databases.rows(tmp_path, sql, missing_ok=True)


# -- rel=canonical --------------------------------------------------------------------------------


def test_an_off_site_canonical_is_refused_and_counted(tmp_path: Path, fresh_portal: Portal) -> None:
    page = portal_page("en/article/harbour-tram-extension.html").replace(
        "{base}/en/article/harbour-tram-extension", "https://elsewhere.example/news/harbour-tram")
    fresh_portal.serve("/hostile/offsite/story", page)
    feed = fresh_portal.serve("/hostile/offsite/feed.xml", rss("{base}/hostile/offsite/story"),
                              "application/rss+xml")
    config = write_config(tmp_path, [{"name": "offsite", "feed": feed, "language": "en"}])
    newswatch(config, "crawl")
    assert rows(tmp_path, "SELECT url, canonical_url FROM articles") == [
        (fresh_portal.url_for("/hostile/offsite/story"), fresh_portal.url_for("/hostile/offsite/story"))]
    (stats,) = rows(tmp_path, "SELECT stats FROM crawl_runs")[0]
    assert '"clean/canonical_refused": 1' in stats
    assert "elsewhere.example" not in newswatch(config, "digest", "--preview").stdout


@pytest.mark.postgres
def test_a_page_cannot_take_another_sources_article_url(tmp_path: Path, fresh_portal: Portal) -> None:
    """A stranger's page claims the Korean portal's article URL as its canonical: the real article
    is still fetched and stored with its own text, and the stranger's under its own URL."""
    victim = fresh_portal.url_for("/kr/article/1001")
    page = portal_page("en/article/harbour-tram-extension.html").replace(
        "{base}/en/article/harbour-tram-extension", victim)
    fresh_portal.serve("/hostile/claim/story", page)
    fresh_portal.serve("/hostile/claim/feed.xml", rss("{other}/hostile/claim/story"),
                       "application/rss+xml")
    config = write_config(tmp_path, [
        {"name": "stranger", "feed": fresh_portal.other_url + "/hostile/claim/feed.xml"},
        {"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"), "language": "ko"},
    ])
    newswatch(config, "crawl", "--source", "stranger")
    newswatch(config, "crawl", "--source", "kr")
    stored = dict(rows(tmp_path, "SELECT canonical_url, text FROM articles"))
    assert KOREAN_LEAD in stored[victim]
    assert "harbour" not in stored[victim].lower()
    stranger_url = fresh_portal.other_url + "/hostile/claim/story"
    assert "tram network to the harbour" in stored[stranger_url]
    assert fresh_portal.count("/kr/article/1001") == 1


# -- text a database refuses ---------------------------------------------------------------------


@pytest.mark.postgres
def test_a_nul_escaped_in_a_pages_json_is_not_stored(tmp_path: Path, fresh_portal: Portal) -> None:
    """json.loads makes a NUL of a \u0000 in a page's JSON-LD, and PostgreSQL refuses NUL in text:
    the article is stored without it, on either database."""
    body = " ".join(f"The council met on day {n} to discuss the harbour tram budget." for n in range(40))
    ld = ('{"@type": "NewsArticle", "headline": "Harbour tram\\u0000 delayed", '
          f'"articleBody": "{body[:400]}\\u0000{body[400:]}"}}')
    fresh_portal.serve("/hostile/nul/story", f'<html><head><script type="application/ld+json">{ld}'
                                             '</script></head><body><div id="root"></div></body></html>')
    feed = fresh_portal.serve("/hostile/nul/feed.xml", rss("{base}/hostile/nul/story"),
                              "application/rss+xml")
    config = write_config(tmp_path, [{"name": "nul", "feed": feed, "language": "en"}])
    newswatch(config, "crawl")
    stored = rows(tmp_path, "SELECT title, text FROM articles")
    assert len(stored) == 1, "not stored: see pipelines/extraction/extract.py _storable"
    ((title, text),) = stored
    assert "on day 39 to discuss" in text and "\x00" not in title + text


@pytest.mark.postgres
def test_a_canonical_url_longer_than_the_column_is_stored(tmp_path: Path, fresh_portal: Portal) -> None:
    """A page may declare a canonical URL of any length (and percent-encoding makes a Korean slug
    nine times longer): the article is stored under an identity that fits articles.canonical_url
    (2,000 characters, which PostgreSQL enforces), and the next round does not fetch it again."""
    long_url = fresh_portal.url_for("/hostile/long/" + "기사-제목-" * 60)
    page = portal_page("en/article/harbour-tram-extension.html").replace(
        "{base}/en/article/harbour-tram-extension", long_url)
    fresh_portal.serve("/hostile/long/story", page)
    feed = fresh_portal.serve("/hostile/long/feed.xml", rss("{base}/hostile/long/story"),
                              "application/rss+xml")
    config = write_config(tmp_path, [{"name": "long", "feed": feed, "language": "en"}])
    newswatch(config, "crawl")
    stored = rows(tmp_path, "SELECT canonical_url FROM articles")
    assert len(stored) == 1, "not stored: see pipelines/dedupe/identity.py canonical_url"
    ((identity,),) = stored
    assert len(identity) == 2000
    assert identity.startswith(fresh_portal.url_for("/hostile/long/%EA%B8%B0%EC%82%AC-"))
    fresh_portal.reset()
    newswatch(config, "crawl")
    assert fresh_portal.count("/hostile/long/story") == 0, "fetched again"


# -- processes ------------------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False



@pytest.mark.postgres
def test_kill_9_leaves_no_worker_behind_and_the_next_crawl_closes_the_round(
        tmp_path: Path, fresh_portal: Portal) -> None:
    fresh_portal.set_state(slow_delay=120)
    config = write_config(tmp_path, [
        {"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"), "language": "ko"},
        {"name": "hung", "feed": fresh_portal.url_for("/fault/slow.xml")},
    ], crawl={"timeout": 100, "extract_workers": 2})
    crawl = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "crawl"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: bool(rows(tmp_path, "SELECT id FROM articles")), 90), \
            "the crawl stored nothing"
        family = _descendants(crawl.pid)
        assert len(family) >= 3, "expected a forkserver and two extraction workers"
    finally:
        crawl.kill()
        crawl.wait()
    assert wait_for(lambda: not any(_alive(pid) for pid in family), 30), \
        f"processes outlived the killed crawl: {[p for p in family if _alive(p)]}"
    assert rows(tmp_path, "SELECT r.status FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
                          "WHERE s.name = 'hung'") == [("running",)]
    newswatch(config, "crawl", "--source", "kr")
    ((status, error),) = rows(tmp_path, "SELECT r.status, r.error FROM crawl_runs r JOIN sources s "
                                        "ON s.id = r.source_id WHERE s.name = 'hung'")
    assert status == "abandoned" and "ended before the round did" in error


# -- bounded rounds -------------------------------------------------------------------------------


def _sitemap_index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>')


def _endless_indexes(portal: Portal) -> str:
    """Every index links five new ones, for ever: /hostile/chain/1.xml -> 10.xml ... 15.xml -> ..."""
    def answer(path: str, _headers: dict[str, str]) -> Reply:
        n = int(path.rsplit("/", 1)[1].split(".")[0])
        body = _sitemap_index(*(portal.url_for(f"/hostile/chain/{n * 10 + k}.xml")
                                for k in range(5)))
        return Reply(200, body.encode(), {"Content-Type": "application/xml"})

    for n in range(1, 10_000):  # routes are exact paths: register the first levels
        portal.route(f"/hostile/chain/{n}.xml", answer)
    return portal.url_for("/hostile/chain/1.xml")


def test_endless_sitemap_indexes_stop_at_the_request_limit(tmp_path: Path, fresh_portal: Portal) -> None:
    config = write_config(tmp_path, [{"name": "endless", "sitemap": _endless_indexes(fresh_portal)}],
                          crawl={"max_requests_per_round": 12})
    result = json.loads(newswatch(config, "crawl", "--format", "json").stdout)[0]
    assert result["status"] == "partial"
    assert "crawl.max_requests_per_round (12)" in result["error"]
    assert fresh_portal.count("/hostile/chain/") <= 12
    ((status, error, stats),) = rows(tmp_path, "SELECT status, error, stats FROM crawl_runs")
    assert status == "partial" and "max_requests_per_round" in error
    assert json.loads(stats)["newswatch/ended_by"] == "max_requests_per_round"


def test_nested_sitemap_indexes_are_followed_three_deep(tmp_path: Path, fresh_portal: Portal) -> None:
    config = write_config(tmp_path, [{"name": "endless", "sitemap": _endless_indexes(fresh_portal)}])
    newswatch(config, "crawl")
    assert fresh_portal.count("/hostile/chain/") == 1 + 5 + 25 + 125
    ((stats,),) = rows(tmp_path, "SELECT stats FROM crawl_runs")
    assert json.loads(stats)["newswatch/skipped/sitemap_too_deep"] == 125


def test_a_hung_source_ends_at_round_timeout_and_says_so(tmp_path: Path, fresh_portal: Portal) -> None:
    fresh_portal.set_state(slow_delay=90)
    config = write_config(tmp_path, [{"name": "hung", "feed": fresh_portal.url_for("/fault/slow.xml")}],
                          crawl={"timeout": 80, "round_timeout": "10s", "retries": 0})
    started = time.monotonic()
    result = json.loads(newswatch(config, "crawl", "--format", "json").stdout)[0]
    assert time.monotonic() - started < 60, "the round outlived its limit by far"
    assert result["status"] == "failed"
    assert result["error"].startswith("round stopped at crawl.round_timeout (10s)")


# -- errors that say what happened ----------------------------------------------------------------


def test_a_feed_redirected_to_another_site_says_so(tmp_path: Path, fresh_portal: Portal) -> None:
    fresh_portal.route("/hostile/moved.xml", lambda _p, _h: Reply(
        301, b"", {"Location": fresh_portal.other_url + "/kr/rss.xml"}))
    config = write_config(tmp_path, [{"name": "moved", "feed": fresh_portal.url_for("/hostile/moved.xml")}])
    result = json.loads(newswatch(config, "crawl", "--format", "json").stdout)[0]
    assert result["status"] == "failed"
    assert "redirects to another site (http://localhost:" in result["error"]
    assert 'add "localhost" to its allowed_domains' in result["error"]
    assert fresh_portal.count("/kr/rss.xml") == 0


def test_a_compressed_sitemap_over_the_size_limit_says_so(tmp_path: Path, fresh_portal: Portal) -> None:
    urls = "".join(f"<url><loc>{{base}}/news/story/{n}</loc></url>" for n in range(2000))
    body = gzip.compress(('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                          f'sitemap/0.9">{urls}</urlset>').encode())
    fresh_portal.serve("/hostile/sitemap.xml.gz", body, "application/x-gzip")
    bomb = fresh_portal.url_for("/hostile/sitemap.xml.gz")
    config = write_config(tmp_path, [{"name": "bomb", "sitemap": bomb}], crawl={"max_page_bytes": 20_000})
    result = json.loads(newswatch(config, "crawl", "--format", "json").stdout)[0]
    assert result["status"] == "failed"
    assert "compressed sitemap expands past crawl.max_page_bytes (20000 bytes)" in result["error"]
    assert fresh_portal.count("/news/story/") == 0


def test_links_that_are_not_http_are_counted_as_skipped(tmp_path: Path, fresh_portal: Portal) -> None:
    feed = fresh_portal.serve("/hostile/schemes.xml", rss(
        "javascript:alert(1)", "mailto:desk@example.org", "{base}/kr/article/1001"), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "schemes", "feed": feed, "language": "ko"}])
    newswatch(config, "crawl")
    ((stats,),) = rows(tmp_path, "SELECT stats FROM crawl_runs")
    assert json.loads(stats)["newswatch/skipped/not_http"] == 2
    assert rows(tmp_path, "SELECT COUNT(*) FROM articles") == [(1,)]


# -- feeds that explode ---------------------------------------------------------------------------


def test_a_feed_whose_entities_explode_stores_no_article(tmp_path: Path, fresh_portal: Portal) -> None:
    junk = "junk " * 64
    feed = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{junk}"><!ENTITY b "{"&a;" * 32}">'
            f'<!ENTITY c "{"&b;" * 32}">]><rss version="2.0"><channel><title>T</title>'
            "<link>{base}/</link><item><title>Breaking</title><link>{base}/hostile/teaser</link>"
            "<description>&c;</description></item></channel></rss>")
    fresh_portal.serve("/hostile/entities.xml", feed, "application/rss+xml")
    fresh_portal.serve("/hostile/teaser", "<html><body><p>Read the full story in our app.</p></body></html>")
    url = fresh_portal.url_for("/hostile/entities.xml")
    config = write_config(tmp_path, [{"name": "entities", "feed": url}])
    newswatch(config, "crawl")
    assert rows(tmp_path, "SELECT COUNT(*) FROM articles") == [(0,)]
    ((stats,),) = rows(tmp_path, "SELECT stats FROM crawl_runs")
    assert json.loads(stats)["clean/dropped/repetitive"] == 1


# -- a first crawl that fails ---------------------------------------------------------------------


def test_failures_name_their_cause_in_one_line_each(tmp_path: Path, fresh_portal: Portal) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    fresh_portal.route("/hostile/forbidden.xml", lambda _p, _h: Reply(403, b"no robots here"))
    fresh_portal.serve("/private/feed.xml", rss("{base}/kr/article/1001"), "application/rss+xml")
    config = write_config(tmp_path, [
        {"name": "dns", "feed": "http://feeds.newswatch-test.invalid/rss.xml"},
        {"name": "refused", "feed": f"http://127.0.0.1:{closed}/rss.xml"},
        {"name": "forbidden", "feed": fresh_portal.url_for("/hostile/forbidden.xml")},
        {"name": "robots", "feed": fresh_portal.url_for("/private/feed.xml")},
    ])
    result = newswatch(config, "crawl", "--format", "json")
    errors = {r["source"]: r["error"] for r in json.loads(result.stdout)}
    assert errors["dns"].startswith("DNS lookup failed for feeds.newswatch-test.invalid")
    assert errors["refused"].startswith(f"connection refused by 127.0.0.1:{closed}")
    assert errors["forbidden"].startswith("HTTP 403 Forbidden from ")
    assert errors["robots"].startswith("robots.txt of 127.0.0.1 forbids ")
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert len(failures) == 4, result.stderr
    health = {r["name"]: (r["last_status"], r["health"])
              for r in json.loads(newswatch(config, "sources", "--format", "json").stdout)}
    assert all(status == "failed" and text == "failing 1 round in a row"
               for status, text in health.values()), health
