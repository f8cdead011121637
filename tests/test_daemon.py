"""The daemon and its crawl service, for real: one service process for every source, restarted when
it stops heart-beating with nothing lost; intervals that follow each source's rhythm.

The ones that read or write the store run on PostgreSQL too (marked `postgres`; tests/databases.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.conftest import newswatch, write_config
from tests.portal.server import Portal
from tests.waiting import stop, wait_for


def _rows(folder: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the database of the config in `folder`; none while the daemon has not made it."""
    return databases.rows(folder, sql, missing_ok=True)



def _family(pid: int) -> dict[int, str]:
    """The process's descendants and their command lines."""
    parents: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()
            commands[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state[0] != "Z":
            parents.setdefault(int(state[1]), []).append(int(stat.parent.name))
    found, todo = {}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = commands.get(child, "")
            todo.append(child)
    return found


def _services(daemon: subprocess.Popen[str]) -> list[int]:
    return [pid for pid, command in _family(daemon.pid).items() if "crawler.service" in command]


@pytest.mark.slow
@pytest.mark.postgres
def test_one_service_polls_every_source_and_is_restarted_when_it_stops_heart_beating(
        tmp_path: Path, fresh_portal: Portal) -> None:
    fresh_portal.set_state(slow_delay=120)
    sources = [{"name": f"kr-{n}", "feed": fresh_portal.url_for("/kr/rss.xml"), "every": "1h",
                "language": "ko"} for n in range(10)]
    sources.append({"name": "hung", "feed": fresh_portal.url_for("/fault/slow.xml"), "every": "1h"})
    config = write_config(tmp_path, sources, crawl={
        "timeout": 100, "round_timeout": "90s", "stop_grace_seconds": 3, "heartbeat_timeout": "10s"})
    db = tmp_path
    daemon = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "run"],
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        polled = wait_for(lambda: len(_rows(db, "SELECT DISTINCT source_id FROM crawl_runs")) == 11
                           and _rows(db, "SELECT COUNT(*) FROM articles")[0][0] == 5, 120)
        assert polled, "not every source was polled"
        services = _services(daemon)
        family = _family(daemon.pid)
        assert len(services) == 1, f"one crawl service for 11 sources: {family}"
        assert len(family) <= 6, f"service, forkserver, workers, resource tracker at most: {family}"
        assert not [c for c in family.values() if "-m scheduler" in c], "no process per poll"
        articles = _rows(db, "SELECT id, url FROM articles ORDER BY id")

        (old,) = services
        os_kill(old, signal.SIGSTOP)  # a hung engine: alive, but no heartbeat
        new = wait_for(lambda: [pid for pid in _services(daemon) if pid != old], 90)
        assert new, "the silent service was not restarted"
        abandoned = wait_for(lambda: _rows(
            db, "SELECT r.error FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
                "WHERE s.name = 'hung' AND r.status = 'abandoned'"), 30)
        assert abandoned and "restarted (no heartbeat" in abandoned[0][0]
        again = wait_for(lambda: len(_rows(
            db, "SELECT r.id FROM crawl_runs r JOIN sources s ON s.id = r.source_id "
                "WHERE s.name = 'hung'")) >= 2, 60)
        assert again, "the abandoned source was not polled again"
        assert _rows(db, "SELECT id, url FROM articles ORDER BY id") == articles, "nothing lost"
        stderr = stop(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "restarting the crawl service: no heartbeat" in stderr
    assert "newswatch daemon stopped" in stderr
    assert not [pid for pid in (old, *new) if _alive(pid)], "a crawl service outlived the daemon"


def os_kill(pid: int, signum: int) -> None:
    import os

    os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _shift_history(folder: Path, minutes: int) -> None:
    """As if the polls so far had happened `minutes` earlier: the test compresses time. (Row by
    row through the models: date arithmetic in SQL is another function on every database.)"""
    from sqlalchemy import select

    from pipelines.storage.models import CrawlRun, Source
    from pipelines.storage.store import Store

    store = Store(databases.database_url(folder))
    with store.session() as session:
        for model, columns in ((CrawlRun, ("started_at", "finished_at")),
                               (Source, ("last_new_at", "last_run_at"))):
            for row in session.scalars(select(model)):
                for column in columns:
                    if getattr(row, column) is not None:
                        setattr(row, column, getattr(row, column) - timedelta(minutes=minutes))
    store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_auto_intervals_move_both_ways_with_each_feeds_rhythm(tmp_path: Path,
                                                             fresh_portal: Portal) -> None:
    """A feed with new items every poll is polled more often; one that never changes, less."""
    served = {"n": 0}

    def busy_feed(_path: str, _headers: dict[str, str]) -> Any:
        from tests.portal.server import Reply

        served["n"] += 1
        first = served["n"] * 3
        items = "".join(f"<item><title>Item {k}</title><link>{fresh_portal.url}/busy/{k}</link></item>"
                        for k in range(first, first + 3))
        body = f"<rss version='2.0'><channel><title>Busy</title>{items}</channel></rss>"
        return Reply(200, body.encode(), {"Content-Type": "application/rss+xml"})

    fresh_portal.route("/hostile/busy.xml", busy_feed)
    for k in range(40):
        text = " ".join(f"Paragraph {k}.{p}: the council met on day {k} to discuss item {p} of the "
                        f"budget, and {k * p} residents wrote in." for p in range(6))
        fresh_portal.serve(f"/busy/{k}", f"<html><head><title>Story {k}</title></head><body>"
                                         f"<article><h1>Story {k}</h1><p>{text}</p></article></body></html>")
    config = write_config(tmp_path, [
        {"name": "busy", "feed": fresh_portal.url_for("/hostile/busy.xml")},
        {"name": "quiet", "feed": fresh_portal.url_for("/en/atom.xml")},
    ])
    for _ in range(4):  # four polls, half an hour apart (time compressed by shifting the history)
        newswatch(config, "crawl")
        _shift_history(tmp_path, 30)
    rows = {r["name"]: r for r in json.loads(newswatch(config, "sources", "--format", "json").stdout)}
    first_interval = 30 * 60  # crawler/timing.py FIRST_INTERVAL, before the rhythm is known
    assert rows["busy"]["interval"] < first_interval, rows["busy"]["why"]
    assert "9 new in the last" in rows["busy"]["why"]
    assert rows["quiet"]["interval"] > first_interval, rows["quiet"]["why"]
    assert "nothing new for" in rows["quiet"]["why"]


@pytest.mark.slow
@pytest.mark.postgres
def test_a_service_past_max_memory_is_restarted(tmp_path: Path, fresh_portal: Portal) -> None:
    config = write_config(tmp_path, [{"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"),
                                      "every": "1h", "language": "ko"}],
                          crawl={"max_memory": "100MB", "stop_grace_seconds": 2})
    daemon = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "run"],
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        first = wait_for(lambda: _services(daemon), 30)
        assert first, "no crawl service started"
        restarted = wait_for(lambda: [pid for pid in _services(daemon) if pid not in first], 90)
        assert restarted, "a service past crawl.max_memory kept running"
        stderr = stop(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "restarting the crawl service: it used" in stderr
    assert "(crawl.max_memory = 100MB)" in stderr


def test_politeness_is_per_site_across_sources(tmp_path: Path, fresh_portal: Portal) -> None:
    """Five section feeds of one site, one request at a time to that site, whichever source asks."""
    from tests.portal.server import Reply

    def slow_feed(_path: str, _headers: dict[str, str]) -> Reply:
        time.sleep(0.4)
        body = "<rss version='2.0'><channel><title>Section</title></channel></rss>"
        return Reply(200, body.encode(), {"Content-Type": "application/rss+xml"})

    sources = []
    for n in range(5):
        sources.append({"name": f"section-{n}", "feed": fresh_portal.route(f"/hostile/section-{n}.xml",
                                                                          slow_feed)})
    config = write_config(tmp_path, sources, crawl={"concurrency_per_domain": 1, "obey_robots": False})
    newswatch(config, "crawl")
    feeds = [r for r in fresh_portal.requests() if r.path.startswith("/hostile/section-")]
    assert len(feeds) == 5
    spans = sorted((r.time, r.time + (r.duration or 0)) for r in feeds)
    overlapping = max(sum(1 for a, b in spans if a < end and start < b) for start, end in spans)
    assert overlapping == 1, f"{overlapping} requests at once to one site"
