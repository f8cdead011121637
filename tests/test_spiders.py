"""Spiders read every index format into the right article requests (responses built in memory)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler
from twisted.internet.task import Clock

from crawler.config import CrawlConfig, SourceConfig
from crawler.ledger import MemoryLedger
from crawler.rounds import Limits, Round, RoundResult, Rounds
from crawler.spiders.candidates import site_domain
from crawler.spiders.news import NewsSpider
from pipelines.storage.store import Store
from tests import databases

RSS_091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title>
<link>http://news.example.kr/</link><language>ko</language>
<item><title>A</title><link>http://news.example.kr/a</link>
<description>summary a</description></item></channel></rss>"""
RSS_10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://news.example.kr/"><title>RDF</title><link>http://news.example.kr/</link></channel>
<item rdf:about="http://news.example.kr/b"><title>B</title><link>http://news.example.kr/b</link>
<dc:date>2024-05-28 14:03:00</dc:date></item></rdf:RDF>"""
NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:n="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://news.example.kr/old</loc><n:news><n:publication_date>2024-05-27T09:00:00+09:00</n:publication_date>
<n:title>Old one</n:title></n:news></url>
<url><loc>http://news.example.kr/new</loc><n:news><n:publication_date>2024-05-28T09:00:00+09:00</n:publication_date>
<n:title>New one</n:title></n:news></url>
<url><loc>http://elsewhere.example.com/x</loc></url>
</urlset>"""


def _spider(tmp_path: Path, **source: object) -> tuple[NewsSpider, Round]:
    """The service's spider with one round of `source` begun (no reactor: a test clock)."""
    config = SourceConfig.model_validate(source)
    store = Store.open(databases.new_database(tmp_path))
    store.sync_sources([config])
    begun: list[Round] = []
    rounds = Rounds(store, Limits.of(CrawlConfig()), parallel=4, begin=begun.append,
                    ended=lambda result: None,
                    domains=lambda s: (site_domain(s.url), *s.allowed_domains), clock=Clock())
    spider = NewsSpider.from_crawler(get_crawler(NewsSpider, {"NEWSWATCH_ROUNDS": rounds}))
    rounds.ask(config)
    (current,) = begun
    current.started_one()  # its index request
    return spider, current


def _requests(spider: NewsSpider, current: Round, response: TextResponse) -> list[Request]:
    response.request = Request(response.url, meta={"index": True, "source": current.name,
                                                   "run": current.run_id})
    current.started_one()
    return list(spider.parse_index(response))


@pytest.mark.parametrize("body", [RSS_091, RSS_10])
def test_old_rss_versions_are_read(tmp_path: Path, body: bytes) -> None:
    spider, current = _spider(tmp_path, name="old", feed="http://rss.news.example.kr/f")
    requests = _requests(spider, current, XmlResponse("http://rss.news.example.kr/f", body=body))
    assert len(requests) == 1
    candidate = requests[0].meta["candidate"]
    assert candidate.url.startswith("http://news.example.kr/")
    assert requests[0].meta["dont_cache"]
    if body is RSS_10:  # a dc:date without zone on a Korean feed? No language: UTC.
        assert candidate.published.isoformat().startswith("2024-05-28T14:03")


def test_news_sitemap_gives_titles_dates_newest_first_and_stays_on_site(tmp_path: Path) -> None:
    spider, current = _spider(tmp_path, name="nm", sitemap="http://news.example.kr/sm.xml.gz",
                              language="ko")
    response = XmlResponse("http://news.example.kr/sm.xml.gz", body=gzip.compress(NEWS_SITEMAP))
    requests = _requests(spider, current, response)
    assert [r.meta["candidate"].title for r in requests] == ["New one", "Old one"]
    assert requests[0].meta["candidate"].published.utcoffset().total_seconds() == 9 * 3600
    assert current.count_of("newswatch/skipped/offsite") == 1
    assert all(r.meta["download_slot"] == "example.kr" for r in requests), "one slot per site"


def test_budget_caps_a_huge_first_fetch(tmp_path: Path) -> None:
    items = "".join(f"<item><link>http://news.example.kr/{n}</link></item>" for n in range(50))
    body = f"<rss version='2.0'><channel><link>http://news.example.kr/</link>{items}</channel></rss>"
    spider, current = _spider(tmp_path, name="big", feed="http://news.example.kr/rss")
    current.limits = replace(current.limits, max_articles=10)
    response = XmlResponse("http://news.example.kr/rss", body=body.encode())
    assert len(_requests(spider, current, response)) == 10
    assert current.count_of("newswatch/skipped/over_budget") == 40
    assert current.settled_now() == {}, "links left over: the next round must read the feed again"


def test_a_settled_index_is_not_read_again_unless_it_or_the_source_changed(tmp_path: Path) -> None:
    items = "".join(f"<item><link>http://news.example.kr/{n}</link></item>" for n in range(3))
    body = f"<rss version='2.0'><channel>{items}</channel></rss>".encode()
    spider, current = _spider(tmp_path, name="kr", feed="http://news.example.kr/rss")
    response = XmlResponse("http://news.example.kr/rss", body=body)
    assert _requests(spider, current, response)
    current.settled = current.settled_now()  # what the next round starts from
    assert list(current.settled) == ["http://news.example.kr/rss"]
    current.limits = replace(current.limits, max_articles=100)
    assert _requests(spider, current, response) == []
    assert current.count_of("newswatch/index_settled") == 1
    assert current.count_of("newswatch/index_ok") == 2, "still a healthy read"
    changed = XmlResponse("http://news.example.kr/rss", body=body.replace(b"</item>", b" </item>", 1))
    assert _requests(spider, current, changed), "a changed body is read"
    current.source = current.source.model_copy(update={"allowed_domains": ["other.example"]})
    assert _requests(spider, current, response), "a changed source config is read"


def test_a_listing_walk_ends_at_a_settled_page_whose_next_page_is_settled(tmp_path: Path) -> None:
    spider, current = _spider(tmp_path, name="l", listing="http://news.example.kr/list",
                              links="a.headline", next="a.next", max_pages=4)
    current.limits = replace(current.limits, max_articles=100)

    def page(n: int, extra: str = "") -> HtmlResponse:
        url = "http://news.example.kr/list" + (f"?page={n}" if n > 1 else "")
        links = "".join(f"<a class='headline' href='/a/{n}-{i}'>{n}-{i}</a>" for i in range(2))
        more = f"<a class='next' href='/list?page={n + 1}'>next</a>" if n < 4 else ""
        return HtmlResponse(url, body=f"<html><body>{extra}{links}{more}</body></html>".encode(),
                            encoding="utf-8")

    def walk(pages: list[HtmlResponse]) -> list[str]:
        """The index pages a round asks for after each of `pages`."""
        asked = []
        for response in pages:
            asked += [r.url for r in _requests(spider, current, response) if r.meta.get("index")]
        return asked

    def next_round() -> None:
        """What the next round starts from: the settled pages, and an empty ledger."""
        current.settled, current.ledger = current.settled_now(), MemoryLedger()
        current.started_one()  # its first index request

    first = walk([page(n) for n in (1, 2, 3, 4)])
    assert first == [f"http://news.example.kr/list?page={n}" for n in (2, 3, 4)]
    next_round()
    assert len(current.settled) == 4
    # Unchanged: page 1 is settled, and page 2 was last time: nothing further on can be new.
    assert walk([page(1)]) == []
    next_round()
    assert list(current.settled) == ["http://news.example.kr/list", "http://news.example.kr/list?page=2"]
    assert walk([page(1)]) == [], "the page it did not fetch stays settled for the round after"
    # A new story on page 1: the walk goes on to page 2 (settled), and past it, as page 3 is
    # no longer known to be settled.
    next_round()
    changed = walk([page(1, "<a class='headline' href='/a/new'>new</a>"), page(2)])
    assert changed == ["http://news.example.kr/list?page=2", "http://news.example.kr/list?page=3"]


def test_listing_without_matching_links_names_the_selector(tmp_path: Path) -> None:
    spider, current = _spider(tmp_path, name="l", listing="http://news.example.kr/list",
                              links="a.headline")
    html = b"<html><body><a class='title' href='/a'>A</a></body></html>"
    assert _requests(spider, current, HtmlResponse("http://news.example.kr/list", body=html)) == []
    assert "no element matches links = 'a.headline'" in current.errors()[0]


def test_a_round_is_over_when_its_requests_and_items_are(tmp_path: Path) -> None:
    items = "".join(f"<item><link>http://news.example.kr/{n}</link></item>" for n in range(2))
    body = f"<rss version='2.0'><channel>{items}</channel></rss>".encode()
    spider, current = _spider(tmp_path, name="kr", feed="http://news.example.kr/rss")
    requests = _requests(spider, current, XmlResponse("http://news.example.kr/rss", body=body))
    current.done_one()  # the index request's own count, as the engine's callback would end it
    assert current.pending == 2 and not current.over, "two article requests pending"
    for request in requests:
        page = HtmlResponse(request.url, body=b"<html><body><p>text</p></body></html>",
                            request=request)
        (item,) = list(spider.parse_article(page))
        assert not current.over, "the item is still in the pipeline"
        spider.item_done(item)
    assert current.over and current.pending == 0


def test_a_round_that_cannot_start_fails_alone_and_says_why(tmp_path: Path) -> None:
    """No descriptor left for a source's lock: that poll ends `failed` with the cause (so the
    daemon plans the next one), and the sources waiting behind it still start."""
    configs = [SourceConfig(name=name, feed=f"http://{name}.example.kr/rss") for name in ("a", "b")]
    store = Store.open(databases.new_database(tmp_path))
    store.sync_sources(configs)

    def lock(name: str) -> Callable[[], None]:
        if name == "a":
            raise OSError(24, "Too many open files")
        return lambda: None

    begun: list[Round] = []
    ended: list[RoundResult] = []
    rounds = Rounds(store, Limits.of(CrawlConfig()), parallel=4, begin=begun.append,
                    ended=ended.append, domains=lambda s: (site_domain(s.url),), lock=lock,
                    clock=Clock())
    for config in configs:
        rounds.ask(config)
    assert [(r.source, r.status) for r in ended] == [("a", "failed")]
    assert "Too many open files" in (ended[0].error or "")
    assert [r.name for r in begun] == ["b"]
    store.close()
