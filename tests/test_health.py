"""Source health: failing, silent, and pages that stopped yielding article text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.config import parse_config
from pipelines.storage.health import attention, diagnose, source_rows
from pipelines.storage.models import CrawlRun, Source
from pipelines.storage.store import Store
from tests.sql_plans import explain, statements

NOW = datetime.now(UTC)
pytestmark = pytest.mark.postgres


def _setup(tmp_path: Path, database_url: str) -> tuple[Store, object]:
    config = parse_config({"sources": [
        {"name": "busy", "feed": "http://busy.example/rss", "every": "30m"},
        {"name": "quiet", "feed": "http://quiet.example/rss", "every": "30m"},
        {"name": "broken", "feed": "http://broken.example/rss"},
        {"name": "textless", "feed": "http://textless.example/rss"},
        {"name": "new", "feed": "http://new.example/rss"},
        {"name": "once", "feed": "http://once.example/rss"},
    ]}, base_dir=tmp_path)
    store = Store.open(database_url)
    store.sync_sources(config.sources)
    return store, config


def _article(store: Store, source: str, n: int, at: datetime) -> None:
    store.add_article({"source_id": store.source_id(source), "url": f"http://{source}/{n}",
                       "canonical_url": f"http://{source}/{n}", "text": f"{source} {n} " * 50,
                       "fingerprint": f"{source}-{n}", "fetched_at": at})


def _run(store: Store, source: str, status: str, stats: dict, at: datetime) -> None:
    run_id = store.start_run(store.source_id(source))
    store.finish_run(run_id, status=status, error="http://broken.example/rss: HTTP 500"
                     if status == "failed" else None, counts={}, stats=stats)
    with store.session() as session:
        session.get_one(CrawlRun, run_id).finished_at = at
        source_row = session.get_one(Source, store.source_id(source))
        source_row.last_run_at = at


def test_health_tells_failing_silent_and_textless_sources_apart(tmp_path: Path,
                                                               database_url: str) -> None:
    store, config = _setup(tmp_path, database_url)
    for n in range(10):  # busy: a new article every 30 minutes, the last one just now
        _article(store, "busy", n, NOW - timedelta(minutes=30 * n))
    for n in range(10):  # quiet: used to publish hourly, nothing for three days
        _article(store, "quiet", n, NOW - timedelta(days=3, hours=n))
    for name in ("busy", "quiet"):
        _run(store, name, "ok", {"clean/ok": 1}, NOW)
    for _ in range(4):
        _run(store, "broken", "failed", {}, NOW)
    for _ in range(3):
        _run(store, "textless", "ok", {"clean/dropped/no_text": 5}, NOW)
    _run(store, "once", "ok", {"clean/ok": 1}, NOW - timedelta(hours=1))
    _run(store, "once", "failed", {}, NOW)
    health = {row["name"]: row["health"] for row in source_rows(store, config)}
    assert health["busy"] == "ok"
    assert health["quiet"].startswith("silent: no new item for 3.0 days")
    assert health["broken"] == "failing 4 rounds in a row, backed off"
    assert health["once"] == "failing 1 round in a row", "never ok beside a failed last round"
    assert health["textless"].startswith("pages yield no article text")
    assert health["new"] == "never run"
    with statements(store) as seen:
        lines = attention(store, config)
    assert not [s for s in seen if "row_number" in s.lower() or "group by" in s.lower()], (
        "the digest's footer reads no polling rhythms and no article counts")
    assert len(lines) == 3
    assert any(line.startswith("broken: failing 4 rounds") and "HTTP 500" in line for line in lines)
    store.close()


def test_a_sources_newest_runs_are_read_from_the_index(tmp_path: Path, database_url: str) -> None:
    """Health reads a source's three newest runs: through (source_id, started_at), not by reading
    and sorting every run the source ever had (43,000 a month for a source polled every minute)."""
    store, config = _setup(tmp_path, database_url)
    for minutes in (30, 20, 10):
        _run(store, "busy", "ok", {"clean/ok": 1}, NOW - timedelta(minutes=minutes))
    [busy] = [s for s in config.sources if s.name == "busy"]
    row = store.source("busy")
    with statements(store, params=True) as seen:
        assert diagnose(store, busy, row, config.crawl.backoff_after) == "ok"
    sql, params = next((s, p) for s, p in seen if "FROM crawl_runs" in s)
    plan = explain(store, sql, params, off=("seqscan", "bitmapscan"))
    assert "ix_crawl_runs_source_started" in plan, plan
    sorts = [line for line in plan.splitlines()
             if "TEMP B-TREE" in line or line.strip().startswith(("Sort", "->  Sort"))]
    assert not sorts, f"the runs are sorted after reading them all:\n{plan}"
    store.close()
