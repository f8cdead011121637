"""A hostile portal: pages, feeds and sitemaps that lie, loop or explode, crawled for real."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import newswatch, write_config
from tests.portal.server import PAGES_DIR, Portal

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


def rows(tmp_path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "newswatch.db") as connection:
        return connection.execute(sql, args).fetchall()


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
