"""End to end: `newswatch crawl` against the local portal, asserting on what was stored.

Every test here runs on PostgreSQL too (marked `postgres`; tests/databases.py).
"""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from crawler.config import load_config
from crawler.locks import SourceLocks
from tests import databases
from tests.conftest import newswatch, write_config
from tests.portal.server import Portal

SEED_PARAGRAPHS = [
    "글로벌 AI 프론티어랩(Global AI Frontier Lab)을 미국 뉴욕대(NYU)에 구축한다고 28일 밝혔다",
    "글로벌 기술패권 시대에 대한 선제적 대응",
    "얀 르쿤(Yann LeCun) 교수",
    "정책적 지원을 뒷받침하겠다",
]
RANKING_HEADLINES = [
    "AI에이전트가 이끄는 AI융합(AX) 방향 제시",
    "스텔란티스가 공개한 자체 개발 자율주행 시스템",
    "애니악' 연상케 한 양자컴",
    "이정후, 복귀전 첫 안타 기록",
    "공유하기",
    "댓글0",
]
EUCKR_SENTENCES = {
    3001: "한국과 미국의 최고 연구진이 세계 최고 수준의 AI 공동연구를 수행하는",
    3002: "전국의 인공지능 대학원은 모두 18곳으로 늘었다",
    3003: "세액공제 혜택을 2029년까지 5년 더 연장하기로 했다",
    3004: "서울의 낮 최고기온이 31도까지 오르며",
    3005: "시가 따로 개발하지는 않았다",
}
pytestmark = pytest.mark.postgres


def sources(portal: Portal) -> list[dict]:
    return [
        {"name": "kr", "feed": portal.url_for("/kr/rss.xml"), "language": "ko"},
        {"name": "euckr", "listing": portal.url_for("/euckr/list"), "links": "a.headline",
         "next": "a.next", "max_pages": 5, "language": "ko"},
        {"name": "en", "feed": portal.url_for("/en/atom.xml"), "language": "en"},
        {"name": "wire", "sitemap": portal.url_for("/news/sitemap_index.xml")},
        {"name": "mixed", "feed": portal.url_for("/fault/mixed.xml")},
        {"name": "gone", "feed": portal.url_for("/fault/404.xml")},
        {"name": "broken-server", "feed": portal.url_for("/fault/500.xml")},
        {"name": "slow", "feed": portal.url_for("/fault/slow.xml")},
        {"name": "html-feed", "feed": portal.url_for("/fault/html-feed.xml")},
        {"name": "broken-xml", "feed": portal.url_for("/fault/broken.xml")},
    ]


class Crawl:
    """A crawl of the whole portal, twice, with the requests the portal saw each time."""

    def __init__(self, tmp: Path, portal: Portal) -> None:
        self.portal = portal
        self.config = write_config(tmp, sources(portal))
        self.first_out = newswatch(self.config, "crawl", "--format", "json").stdout
        self.first = portal.requests()
        portal.reset()
        self.second_out = newswatch(self.config, "crawl", "--format", "json").stdout
        self.second = portal.requests()

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        return databases.rows(self.config, sql, **params)

    def article(self, path: str) -> tuple:
        found = self.rows("SELECT title, text, published, language, canonical_url FROM articles "
                          "WHERE url = :url", url=self.portal.url_for(path))
        assert found, f"{path} was not stored; run `newswatch crawl -v` on the portal to see why"
        return found[0]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory, portal: Portal) -> Crawl:
    portal.reset()
    portal.reset_state()
    portal.set_state(slow_delay=8)
    return Crawl(tmp_path_factory.mktemp("crawl"), portal)


def test_seed_like_page_keeps_the_article_and_drops_the_ranking_lists(crawl: Crawl) -> None:
    title, text, published, language, _ = crawl.article("/kr/article/1001")
    assert "글로벌 AI 프론티어랩" in title
    for paragraph in SEED_PARAGRAPHS:
        assert paragraph in text
    for noise in RANKING_HEADLINES:
        assert noise not in text, f"boilerplate {noise!r} leaked into the stored text"
    assert language == "ko"
    assert published.startswith("2024-05-28 01:30")  # 10:30 Seoul, stored as UTC


def test_euckr_pages_come_out_as_correct_unicode(crawl: Crawl) -> None:
    for number, sentence in EUCKR_SENTENCES.items():
        _, text, published, _, _ = crawl.article(f"/euckr/view.php?no={number}")
        assert sentence in text, f"article {number}: wrong decoding or extraction"
        assert "\ufffd" not in text
        assert published, f"article {number}: no date read from 입력 2024.05.28 …"
    # 입력 2024.05.28 14:03 on the page, a Seoul time without zone.
    assert crawl.article("/euckr/view.php?no=3001")[2].startswith("2024-05-28 05:03")


def test_zone_less_feed_date_is_seoul_time(crawl: Crawl) -> None:
    assert crawl.article("/kr/article/1003")[2].startswith("2024-05-28 05:03")


def test_tracking_and_clean_urls_are_one_article(crawl: Crawl) -> None:
    stored = crawl.rows("SELECT canonical_url FROM articles WHERE url LIKE :pattern",
                        pattern=crawl.portal.url_for("/en/%"))
    canonical = sorted(url for (url,) in stored)
    assert len(canonical) == 4
    assert all("utm_" not in url for url in canonical)
    australia = [r for r in crawl.first if "australia-ai-research-institutes" in r.path]
    assert len(australia) == 1, "the same article was fetched under two URLs"


def test_client_rendered_and_paywalled_pages_are_read_from_embedded_json(crawl: Crawl) -> None:
    _, text, *_ = crawl.article("/news/story/korea-germany-ai-research-pact")
    assert "each side will contribute up to €30m over five years" in text
    _, text, *_ = crawl.article("/news/story/voltera-battery-results")
    assert "slow construction of its second factory in northern Spain" in text


def test_polite_crawl_never_leaves_the_site_or_ignores_robots(crawl: Crawl) -> None:
    paths = [r.path for r in crawl.first]
    assert not any(p.startswith("/private/") for p in paths)
    assert all(r.headers.get("user-agent", "").startswith("newswatch/") for r in crawl.first)
    assert "/robots.txt" in paths


def test_faults_stay_local_and_are_recorded_on_their_source(crawl: Crawl) -> None:
    results = {r["source"]: r for r in json.loads(crawl.first_out)}
    for name in ("kr", "euckr", "en", "wire"):
        assert results[name]["status"] == "ok", results[name]
    for name, fragment in [("gone", "HTTP 404"), ("broken-server", "HTTP 500"),
                           ("slow", "no answer from 127.0.0.1 within 3s"), ("html-feed", "not a feed")]:
        assert results[name]["status"] == "failed", results[name]
        assert fragment in results[name]["error"], results[name]
    assert results["mixed"]["status"] == "partial"
    # /fault/good/article is linked from both the mixed and the broken feed: stored once.
    assert results["mixed"]["new_articles"] + results["broken-xml"]["new_articles"] == 1
    health = {r["name"]: r for r in json.loads(
        newswatch(crawl.config, "sources", "--format", "json").stdout)}
    assert health["broken-server"]["failures"] == 2  # two rounds, two failures in a row
    assert "HTTP 500" in health["broken-server"]["last_error"]
    assert health["kr"]["failures"] == 0
    assert health["kr"]["articles"] == 5
    assert set(health["kr"]) >= {"name", "kind", "url", "articles", "last_run", "last_status",
                                 "failures", "last_error"}


def test_second_crawl_downloads_no_article_page(crawl: Crawl) -> None:
    article_paths = ("/kr/article/", "/euckr/view.php", "/en/article/", "/news/story/",
                     "/fault/good/")
    assert any(r.path.startswith(article_paths) for r in crawl.first)
    refetched = [r.path for r in crawl.second if r.path.startswith(article_paths)]
    assert refetched == [], f"second crawl fetched article pages again: {refetched}"
    indexes = [r for r in crawl.second if r.path in ("/kr/rss.xml", "/en/atom.xml",
                                                     "/news/sitemap-news.xml", "/euckr/list")]
    assert indexes and all(r.status == 304 for r in indexes)
    # The 404 article is remembered as gone; only the 500 one is tried again.
    assert crawl.portal.count("/fault/missing/article") == 0
    second = {r["source"]: r for r in json.loads(crawl.second_out)}
    assert second["kr"]["new_articles"] == 0


def test_second_crawl_reads_only_the_indexes_with_links_left_to_deal_with(crawl: Crawl) -> None:
    settled = {name: json.loads(stats).get("newswatch/index_settled") for name, stats in crawl.rows(
        "SELECT s.name, r.stats FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
        "WHERE r.id IN (SELECT MAX(id) FROM crawl_runs GROUP BY source_id)")}
    # Every link of these was stored or dropped in the first round: their 304s are not parsed.
    # (euckr: its first listing page, whose next page was settled too, so the walk stops there;
    # wire: the news sitemap, not the index that names it.)
    assert (settled["kr"], settled["en"], settled["euckr"], settled["wire"]) == (1, 1, 1, 1)
    assert [r.path for r in crawl.second if r.path.startswith("/euckr/list")] == ["/euckr/list"]
    # mixed.xml links a 500 article: read again, and the article is tried again.
    assert settled["mixed"] is None
    assert any(r.path == "/fault/error/article" for r in crawl.second)


def test_rerunning_never_duplicates(crawl: Crawl) -> None:
    (count,) = crawl.rows("SELECT COUNT(*) FROM articles")[0]
    (distinct,) = crawl.rows("SELECT COUNT(DISTINCT canonical_url) FROM articles")[0]
    assert count == distinct
    (runs,) = crawl.rows("SELECT COUNT(*) FROM crawl_runs")[0]
    assert runs == 2 * len(sources(crawl.portal))


def test_changed_feed_fetches_only_the_new_article(tmp_path: Path, fresh_portal: Portal) -> None:
    config = write_config(tmp_path, [{"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"),
                                      "language": "ko"}])
    newswatch(config, "crawl")
    fresh_portal.set_state(feed_changed=True)
    fresh_portal.reset()
    newswatch(config, "crawl")
    articles = [r.path for r in fresh_portal.requests() if r.path.startswith("/kr/article/")]
    assert articles == ["/kr/article/1007"]


def test_stuck_etag_cannot_hide_new_items_for_more_than_a_day(
    tmp_path: Path, fresh_portal: Portal
) -> None:
    config = write_config(tmp_path, [{"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"),
                                      "language": "ko"}])
    newswatch(config, "crawl")
    fresh_portal.set_state(etag_bug=True)
    newswatch(config, "crawl")
    assert fresh_portal.count("/kr/article/1007") == 0  # the server's 304 hides it, for now
    # A day passes: age the cache entries (Scrapy's filesystem cache keeps a pickled timestamp).
    for meta in (tmp_path / ".newswatch" / "httpcache").rglob("pickled_meta"):
        data = pickle.loads(gzip.decompress(meta.read_bytes()))
        data["timestamp"] -= 2 * 86400
        meta.write_bytes(gzip.compress(pickle.dumps(data, protocol=4)))
    fresh_portal.reset()
    newswatch(config, "crawl")
    feed = [r for r in fresh_portal.requests() if r.path == "/kr/rss.xml"]
    assert feed and "if-none-match" not in feed[0].headers
    assert fresh_portal.count("/kr/article/1007") == 1


def test_oversized_page_is_refused_and_misencoded_page_is_read(
    tmp_path: Path, fresh_portal: Portal
) -> None:
    config = write_config(tmp_path, [
        {"name": "odd", "feed": fresh_portal.url_for("/fault/pages.xml"), "language": "ko"},
    ], crawl={"max_page_bytes": 1_000_000})
    result = json.loads(newswatch(config, "crawl", "--format", "json").stdout)[0]
    assert result["status"] == "partial"
    assert result["new_articles"] == 1
    assert "page over crawl.max_page_bytes" in result["error"]
    huge = [r for r in fresh_portal.requests() if r.path == "/fault/huge/article"]
    assert huge and huge[0].bytes_sent < 12_000_000
    ((text,),) = databases.rows(config, "SELECT text FROM articles")
    assert "똠얌꿍" in text and "\ufffd" not in text


def test_crawl_of_one_source_and_unknown_source(tmp_path: Path, fresh_portal: Portal) -> None:
    config = write_config(tmp_path, sources(fresh_portal)[:2])
    result = newswatch(config, "crawl", "--source", "kr", "--format", "json")
    assert [r["source"] for r in json.loads(result.stdout)] == ["kr"]
    bad = newswatch(config, "crawl", "--source", "nope", check=False)
    assert bad.returncode == 2
    assert "no source named 'nope'" in bad.stderr


def test_a_source_another_process_is_crawling_is_skipped(tmp_path: Path, fresh_portal: Portal) -> None:
    config_path = write_config(tmp_path, sources(fresh_portal)[:3])
    config = load_config(config_path)
    # This test process stands for the daemon, in the middle of a round of kr.
    locks, other = (SourceLocks(config.path(config.crawl.cache_dir) / "locks") for _ in range(2))
    release = locks.take("kr")
    assert release is not None
    try:
        assert other.take("kr") is None, "a lock is one holder's at a time"
        assert other.not_running(["kr", "euckr"]) == ["euckr"]
        out = newswatch(config_path, "crawl", "--format", "json").stdout
    finally:
        release()
    results = {r["source"]: r for r in json.loads(out)}
    assert [r["source"] for r in json.loads(out)] == ["kr", "euckr", "en"]
    assert results["kr"]["status"] == "busy" and "another newswatch process" in results["kr"]["error"]
    assert results["euckr"]["status"] == results["en"]["status"] == "ok"
    assert not [r for r in fresh_portal.requests() if r.path.startswith("/kr/")]
    # The lock went with its holder: the next round crawls kr.
    again = json.loads(newswatch(config_path, "crawl", "--source", "kr", "--format", "json").stdout)
    assert again[0]["status"] == "ok" and again[0]["new_articles"] == 5


def test_syndicated_copy_across_portals_is_one_story(crawl: Crawl) -> None:
    stories = dict(crawl.rows("SELECT url, story_id FROM articles"))
    seed = stories[crawl.portal.url_for("/kr/article/1001")]
    copy = stories[crawl.portal.url_for("/euckr/view.php?no=3001")]
    assert seed == copy, "the EUC-KR reprint of the seed article did not join its story"
    assert len(set(stories.values())) == len(stories) - 1  # no other merges
    rows = json.loads(newswatch(crawl.config, "matches", "--format", "json").stdout)
    frontier = [r for r in rows if "프론티어랩" in r["title"]]
    assert len(frontier) == 1, "one story, one row"
    assert [place["source"] for place in frontier[0]["also_in"]] in (["kr"], ["euckr"])


def test_user_defined_topic_works_end_to_end(tmp_path: Path, fresh_portal: Portal) -> None:
    heat = {"name": "heatwave", "description": "Heat waves and their toll", "threshold": 0.5,
            "terms": {"heat": {"mode": "require", "sets": [
                {"match": ["폭염 = 무더위 = 더위 = heatwave = heat wave", "최고기온 = temperatures"]}]}}}
    config = write_config(tmp_path, sources(fresh_portal)[1:4], topics=[heat])
    newswatch(config, "crawl")
    rows = json.loads(newswatch(config, "matches", "--topic", "heatwave", "--format",
                                "json").stdout)
    titles = sorted(row["title"] for row in rows)
    assert any("31도" in t for t in titles) and any("Heatwave" in t for t in titles), titles
    assert all(row["topic"] == "heatwave" for row in rows)
    both = json.loads(newswatch(config, "matches", "--format", "json").stdout)
    assert {row["topic"] for row in both} == {"heatwave", "ai-research-policy"}


def test_matches_are_counted_once_per_article(crawl: Crawl) -> None:
    for name, stats in crawl.rows("SELECT s.name, r.stats FROM crawl_runs r JOIN sources s "
                                  "ON s.id = r.source_id WHERE r.id IN (SELECT MIN(id) FROM "
                                  "crawl_runs GROUP BY source_id)"):
        counted = json.loads(stats).get("classify/matched/ai-research-policy", 0)
        (stored,) = crawl.rows("SELECT COUNT(*) FROM matches m JOIN articles a ON a.id = m.article_id "
                               "JOIN sources s ON s.id = a.source_id WHERE s.name = :name",
                               name=name)[0]
        assert counted == stored, f"{name}: {counted} counted, {stored} stored"
