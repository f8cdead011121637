"""Tests of the fixture portal itself (tests/portal/), talking to it over real HTTP with urllib."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.portal import build_pages
from tests.portal.server import Portal, start_portal
from tests.waiting import wait_for

README = Path(__file__).parent / "portal" / "README.md"
MANIFEST = json.loads((build_pages.PAGES_DIR / build_pages.MANIFEST).read_text("utf-8"))
CONDITIONAL_URLS = sorted(e["url"] for e in MANIFEST if e["last_modified"] and "#" not in e["url"])
ARTICLE_URLS = sorted(
    e["url"] for e in MANIFEST
    if e["kind"] == "article" and e["url"].startswith(("/kr/", "/euckr/", "/en/", "/news/"))
)


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    with start_portal() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(portal: Portal) -> None:
    portal.reset()
    portal.reset_state()


def fetch(portal: Portal, path: str, timeout: float = 5.0,
          **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(portal.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- the fixtures on disk -----------------------------------------------------------------------


def test_committed_pages_match_the_generator() -> None:
    problems = build_pages.stale_files() + build_pages.stale_files(
        build_pages.DEMO_DIR, build_pages.expected_demo_files())
    assert not problems, f"{problems}: run `{build_pages.REGENERATE}` and review the diff"


def test_readme_lists_every_url() -> None:
    readme = README.read_text("utf-8")
    missing = [e["url"] for e in MANIFEST if "#" not in e["url"] and f"`{e['url']}`" not in readme]
    assert not missing, f"add these URLs to {README}: {missing}"


@pytest.mark.parametrize("url", ARTICLE_URLS)
def test_article_pages_have_realistic_size(url: str) -> None:
    entry = next(e for e in MANIFEST if e["url"] == url)
    size = (build_pages.PAGES_DIR / entry["file"]).stat().st_size
    assert 20_000 <= size <= 80_000, f"{entry['file']} is {size} bytes; adjust tests/portal/sitegen"


# -- serving and templating ---------------------------------------------------------------------


def test_links_point_at_the_running_portal(portal: Portal) -> None:
    status, _, body = fetch(portal, "/kr/rss.xml")
    text = body.decode("utf-8")
    assert status == 200
    assert "{base}" not in text
    assert f"<link>{portal.url}/kr/article/1001</link>" in text
    assert portal.url.startswith("http://127.0.0.1:")


def test_unknown_paths_and_pages_answer_404(portal: Portal) -> None:
    assert fetch(portal, "/no/such/page")[0] == 404
    assert fetch(portal, "/euckr/list?page=4")[0] == 404
    assert fetch(portal, "/euckr/view.php?no=9999")[0] == 404


def test_article_query_string_is_ignored_except_where_it_routes(portal: Portal) -> None:
    clean = fetch(portal, "/en/article/harbour-tram-extension")
    tagged = fetch(portal, "/en/article/harbour-tram-extension?utm_source=rss&utm_medium=feed")
    assert clean[0] == tagged[0] == 200
    assert clean[2] == tagged[2]
    assert fetch(portal, "/euckr/list")[2] == fetch(portal, "/euckr/list?page=1")[2]


# -- conditional GET ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", CONDITIONAL_URLS)
def test_feeds_sitemaps_and_listings_honour_conditional_get(portal: Portal, url: str) -> None:
    if url == "/fault/flaky.xml":
        portal.set_state(flaky_failures=0)
    if url == "/fault/slow.xml":
        portal.set_state(slow_delay=0)
    status, headers, body = fetch(portal, url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and body
    assert re.fullmatch(r'"[0-9a-f]{20}"', etag), "ETag must be strong"

    status, headers, body = fetch(portal, url, **{"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag

    assert fetch(portal, url, **{"If-Modified-Since": last_modified})[0] == 304
    assert fetch(portal, url, **{"If-None-Match": '"stale"'})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert fetch(portal, url, **both)[0] == 200
    assert fetch(portal, url, **{"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})[0] == 200


def test_feed_changed_adds_an_item_with_a_new_etag(portal: Portal) -> None:
    _, before, body = fetch(portal, "/kr/rss.xml")
    assert b"/kr/article/1007" not in body

    portal.set_state(feed_changed=True)
    status, after, body = fetch(portal, "/kr/rss.xml", **{"If-None-Match": before["ETag"]})
    assert status == 200
    assert b"/kr/article/1007" in body
    assert after["ETag"] != before["ETag"]
    assert after["Last-Modified"] != before["Last-Modified"]
    assert fetch(portal, "/kr/rss.xml", **{"If-None-Match": after["ETag"]})[0] == 304


def test_etag_bug_keeps_the_old_etag_for_new_content(portal: Portal) -> None:
    _, before, _ = fetch(portal, "/kr/rss.xml")
    portal.set_state(etag_bug=True)

    assert fetch(portal, "/kr/rss.xml", **{"If-None-Match": before["ETag"]})[0] == 304
    assert fetch(portal, "/kr/rss.xml", **{"If-Modified-Since": before["Last-Modified"]})[0] == 304
    status, headers, body = fetch(portal, "/kr/rss.xml")
    assert status == 200
    assert b"/kr/article/1007" in body
    assert headers["ETag"] == before["ETag"]


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "header", "meta"),
    [
        ("/euckr/view.php?no=3001", "text/html; charset=euc-kr", "charset=euc-kr"),
        ("/euckr/view.php?no=3002", "text/html", "charset=euc-kr"),
        ("/euckr/view.php?no=3003", "text/html; charset=utf-8", "charset=euc-kr"),
        ("/euckr/view.php?no=3004", "text/html; charset=EUC-KR", '<meta charset="euc-kr">'),
        ("/euckr/view.php?no=3005", "text/html; charset=ks_c_5601-1987", "charset=ks_c_5601-1987"),
        ("/euckr/list?page=1", "text/html; charset=euc-kr", "charset=euc-kr"),
    ],
)
def test_euckr_pages_are_really_euckr(portal: Portal, url: str, header: str, meta: str) -> None:
    status, headers, body = fetch(portal, url)
    assert status == 200
    assert headers["Content-Type"] == header
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("euc-kr")
    assert meta in text
    assert "2024년 5월 28일" in text


def test_euckr_article_dates_are_in_korean_formats(portal: Portal) -> None:
    text = fetch(portal, "/euckr/view.php?no=3001")[2].decode("euc-kr")
    assert "입력 2024.05.28 14:03" in text
    assert "[한결일보 2024년 5월 28일자]" in text


def test_wrong_encoding_page_is_cp949_under_a_utf8_label(portal: Portal) -> None:
    status, headers, body = fetch(portal, "/fault/wrong-encoding/article")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<meta charset="utf-8">' in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("euc-kr")  # "똠" exists only in CP949
    assert "똠얌꿍" in body.decode("cp949")


# -- listing ------------------------------------------------------------------------------------


def test_listing_paginates_and_links_off_site(portal: Portal) -> None:
    pages = [fetch(portal, f"/euckr/list?page={n}")[2].decode("euc-kr") for n in (1, 2, 3)]
    next_links = [re.findall(r'<a class="next" href="([^"]+)"', page) for page in pages]
    assert next_links == [["list?page=2"], ["list?page=3"], []]
    headlines = [re.findall(r'<a class="headline" href="([^"]+)"', page) for page in pages]
    assert headlines == [
        [f"{portal.url}/euckr/view.php?no=3001", f"{portal.url}/euckr/view.php?no=3002",
         "http://offsite.example/news/view.php?id=8812"],
        ["view.php?no=3003", "view.php?no=3004"],
        ["/euckr/view.php?no=3005"],
    ]


# -- the English site and the news sitemap ------------------------------------------------------


def test_atom_links_carry_utm_and_pages_name_the_clean_url(portal: Portal) -> None:
    feed = ET.fromstring(fetch(portal, "/en/atom.xml")[2])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = [e.find("a:link", ns).get("href") for e in feed.findall("a:entry", ns)]
    slug = "australia-ai-research-institutes"
    assert f"{portal.url}/en/article/{slug}?utm_source=rss&utm_medium=feed" in links
    assert f"{portal.url}/en/article/{slug}" in links
    page = fetch(portal, f"/en/article/{slug}?utm_source=rss&utm_medium=feed")[2].decode()
    assert f'<link rel="canonical" href="{portal.url}/en/article/{slug}">' in page


def test_news_sitemap_index_leads_to_news_entries(portal: Portal) -> None:
    index = ET.fromstring(fetch(portal, "/news/sitemap_index.xml")[2])
    sm = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    news = "{http://www.google.com/schemas/sitemap-news/0.9}"
    locs = [loc.text for loc in index.iter(f"{sm}loc")]
    assert locs == [f"{portal.url}/news/sitemap-news.xml"]
    urlset = ET.fromstring(fetch(portal, "/news/sitemap-news.xml")[2])
    entries = urlset.findall(f"{sm}url")
    assert len(entries) == 3
    for entry in entries:
        assert entry.find(f"{news}news/{news}publication/{news}name").text == "Global Wire"
        assert entry.find(f"{news}news/{news}publication_date").text.startswith("2024-05-28")
        assert fetch(portal, entry.find(f"{sm}loc").text.removeprefix(portal.url))[0] == 200


def test_client_rendered_story_text_lives_only_in_next_data(portal: Portal) -> None:
    page = fetch(portal, "/news/story/korea-germany-ai-research-pact")[2].decode()
    assert '<div id="__next"></div>' in page
    data = re.search(r'<script id="__NEXT_DATA__" type="application/json">(.*?)</script>', page, re.S)
    story = json.loads(data.group(1))["props"]["pageProps"]["story"]
    sentence = "each side will contribute up to €30m over five years"
    assert any(sentence in block["text"] for block in story["body"])
    assert page.count(sentence) == 1


def test_paywalled_story_text_lives_only_in_json_ld(portal: Portal) -> None:
    page = fetch(portal, "/news/story/voltera-battery-results")[2].decode()
    sentence = "slow construction of its second factory in northern Spain"
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert any(sentence in json.loads(b).get("articleBody", "") for b in blocks)
    assert page.count(sentence) == 1


# -- faults -------------------------------------------------------------------------------------


def test_fault_sources_fail_as_documented(portal: Portal) -> None:
    assert fetch(portal, "/fault/404.xml")[0] == 404
    assert [fetch(portal, "/fault/500.xml")[0] for _ in range(3)] == [500, 500, 500]
    assert [fetch(portal, "/fault/flaky.xml")[0] for _ in range(3)] == [500, 200, 200]
    status, headers, body = fetch(portal, "/fault/html-feed.xml")
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert body.startswith(b"<!DOCTYPE html>")
    status, _, body = fetch(portal, "/fault/broken.xml")
    assert status == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    assert fetch(portal, "/fault/error/article")[0] == 500
    assert fetch(portal, "/fault/missing/article")[0] == 404


def test_flaky_failures_knob_and_reset_state(portal: Portal) -> None:
    portal.set_state(flaky_failures=2)
    assert [fetch(portal, "/fault/flaky.xml")[0] for _ in range(3)] == [500, 500, 200]
    portal.reset_state()
    assert fetch(portal, "/fault/flaky.xml")[0] == 500


def test_mixed_feed_links_good_missing_and_failing_articles(portal: Portal) -> None:
    links = re.findall(r"<link>(.*?)</link>", fetch(portal, "/fault/mixed.xml")[2].decode())
    articles = [link.removeprefix(portal.url) for link in links if "/article" in link]
    assert articles == ["/fault/good/article", "/fault/missing/article", "/fault/error/article"]
    assert [fetch(portal, path)[0] for path in articles] == [200, 404, 500]


def test_huge_article_is_twelve_megabytes(portal: Portal) -> None:
    status, headers, body = fetch(portal, "/fault/huge/article", timeout=30)
    assert status == 200
    assert int(headers["Content-Length"]) == len(body) >= 12_000_000
    assert body.rstrip().endswith(b"</html>")
    # The server records the bytes once its write returns, which may be after the client has read
    # them all.
    assert wait_for(lambda: portal.requests()[-1].bytes_sent == len(body), 10), portal.requests()[-1]


def test_slow_feed_outlasts_a_client_timeout(portal: Portal) -> None:
    with pytest.raises(TimeoutError):
        fetch(portal, "/fault/slow.xml", timeout=0.5)
    record = portal.requests()[-1]
    assert (record.path, record.status) == ("/fault/slow.xml", None)
    assert portal.count("/fault/slow.xml", status=200) == 0


def test_slow_delay_is_configurable(portal: Portal) -> None:
    portal.set_state(slow_delay=0.3)
    started = time.monotonic()
    assert fetch(portal, "/fault/slow.xml", timeout=5)[0] == 200
    assert 0.3 <= time.monotonic() - started < 3


def test_stop_is_quick_while_a_request_hangs() -> None:
    portal = start_portal()
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            fetch(portal, "/fault/slow.xml", timeout=60)
        except BaseException as error:  # the dropped connection is the expected outcome
            errors.append(error)

    client = threading.Thread(target=hang, daemon=True)
    client.start()
    deadline = time.monotonic() + 5
    while portal.count("/fault/slow.xml") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert portal.count("/fault/slow.xml") == 1

    started = time.monotonic()
    portal.stop()
    assert time.monotonic() - started < 2
    client.join(timeout=5)
    assert not client.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(portal.url + "/robots.txt", timeout=1)


# -- robots.txt and the request log -------------------------------------------------------------


def test_robots_disallows_the_private_article_the_feed_links(portal: Portal) -> None:
    robots = fetch(portal, "/robots.txt")[2].decode()
    assert "Disallow: /private/" in robots
    assert f"Sitemap: {portal.url}/news/sitemap_index.xml" in robots
    feed = fetch(portal, "/kr/rss.xml")[2].decode()
    assert f"<link>{portal.url}/private/kr/article/9001</link>" in feed


def test_request_log_counts_and_resets(portal: Portal) -> None:
    fetch(portal, "/kr/rss.xml", **{"User-Agent": "newswatch-test/1.0"})
    fetch(portal, "/kr/article/1001")
    fetch(portal, "/kr/article/404404")
    assert portal.count() == 3
    assert portal.count("/kr/article/") == 2
    assert portal.count("/kr/", status=404) == 1
    first = portal.requests()[0]
    assert (first.method, first.path, first.status) == ("GET", "/kr/rss.xml", 200)
    assert first.headers["user-agent"] == "newswatch-test/1.0"
    assert first.bytes_sent > 1000 and first.time > 0
    portal.reset()
    assert portal.requests() == [] and portal.count() == 0


def test_set_state_names_the_known_knobs(portal: Portal) -> None:
    with pytest.raises(TypeError, match="feed_changed"):
        portal.set_state(feed_chnaged=True)
