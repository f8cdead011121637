"""A hostile portal: pages, feeds and sitemaps that lie, loop or explode, crawled for real."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
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
    """Rows of the crawl's database; none while it is not created yet."""
    with sqlite3.connect(tmp_path / "newswatch.db") as connection:
        try:
            return connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []


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


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


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
        assert _wait_for(lambda: bool(rows(tmp_path, "SELECT id FROM articles")), 90), \
            "the crawl stored nothing"
        family = _descendants(crawl.pid)
        assert len(family) >= 3, "expected a forkserver and two extraction workers"
    finally:
        crawl.kill()
        crawl.wait()
    assert _wait_for(lambda: not any(_alive(pid) for pid in family), 30), \
        f"processes outlived the killed crawl: {[p for p in family if _alive(p)]}"
    assert rows(tmp_path, "SELECT r.status FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
                          "WHERE s.name = 'hung'") == [("running",)]
    newswatch(config, "crawl", "--source", "kr")
    ((status, error),) = rows(tmp_path, "SELECT r.status, r.error FROM crawl_runs r JOIN sources s "
                                        "ON s.id = r.source_id WHERE s.name = 'hung'")
    assert status == "abandoned" and "ended before the round did" in error
