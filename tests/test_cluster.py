"""newswatch on several machines, for real: schedulers and workers as separate `newswatch run`
processes, each with its own folder and config, sharing one PostgreSQL database and one Redis.

Every article is fetched once, no source is polled by two workers at once, the digest goes out once
however many schedulers run; a worker killed with SIGKILL mid-round loses its sources to another
worker, a killed scheduler to its standby; Redis going away for a minute delays polls, loses none.
Both servers are real and private to the test (tests/postgres.py, tests/redis_server.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests import databases
from tests.conftest import newswatch, write_config
from tests.portal.server import Portal
from tests.postgres import PostgresServer
from tests.redis_server import RedisServer, redis_server
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

FEEDS = [("kr", "/kr/rss.xml", "feed", "ko"), ("en", "/en/atom.xml", "feed", "en"),
         ("news", "/news/sitemap_index.xml", "sitemap", "ko")]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder) as server:
        yield server


@pytest.fixture
def postgres_url() -> str:
    """A fresh database on the tests' private PostgreSQL server, whatever the test switch says:
    a cluster needs PostgreSQL."""
    return databases.postgres().create_database()


def _config(folder: Path, database: str, redis_url: str, sources: list[dict[str, Any]],
            **sections: Any) -> Path:
    folder.mkdir(exist_ok=True)
    config = write_config(folder, sources, cluster={"redis": redis_url}, **sections)
    lines = config.read_text(encoding="utf-8").splitlines()
    lines[1] = f"url = {json.dumps(database)}"  # [database] url: the one shared store
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _start(config: Path, role: str) -> subprocess.Popen[str]:
    """`newswatch run --role ROLE`, its output in a log beside its config."""
    log = (config.parent / f"{role}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "run",
                             "--role", role], stdout=log, stderr=subprocess.STDOUT, text=True,
                            cwd=config.parent)


def _stop(processes: list[subprocess.Popen[str]]) -> list[int | None]:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=60))
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            codes.append(None)
    return codes



def _runs(url: str) -> list[tuple[Any, ...]]:
    return databases.rows(url, "SELECT s.name, r.id, r.status, r.started_at, r.finished_at, r.error "
                               "FROM crawl_runs r JOIN sources s ON s.id = r.source_id ORDER BY r.id",
                          missing_ok=True)


def _holder(server: RedisServer, lease: str) -> str | None:
    import redis

    value = redis.Redis.from_url(server.url).get(f"newswatch:lease:{lease}")
    return value.decode() if value else None


def _started_by(pid: int, processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """Which of the started processes `pid` is, or descends from."""
    ours = {p.pid: p for p in processes}
    while pid not in ours:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        assert pid > 1, "not one of the started processes"
    return ours[pid]


def _kill_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL to the process and all it started, as when its machine dies."""
    family = [process.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _started_by(int(stat.parent.name), [process])
            family.append(int(stat.parent.name))
        except (AssertionError, OSError, ValueError):
            continue
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def _logs(folders: list[Path]) -> str:
    return "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-3000:]}"
                     for folder in folders for log in folder.glob("*.log"))


def test_two_schedulers_two_workers_share_the_work_once_and_survive_kill_9(
    tmp_path: Path, fresh_portal: Portal, redis: RedisServer, postgres_url: str
) -> None:
    fresh_portal.set_state(slow_delay=300)
    sources = [{"name": name, kind: fresh_portal.url_for(path), "every": "1h", "language": language}
               for name, path, kind, language in FEEDS]
    sources.append({"name": "hung", "feed": fresh_portal.url_for("/fault/slow.xml"), "every": "1h"})
    an_hour_ago = (datetime.now(ZoneInfo("Asia/Seoul")) - timedelta(hours=1)).strftime("%H:%M")
    sections = {
        # The hung feed's round would end at 150 s; its worker is killed before. A dead worker's
        # leases run out within 30 s, whatever the round's limit (crawler/cluster.py).
        "crawl": {"timeout": 300, "round_timeout": "150s", "stop_grace_seconds": 3},
        "digest": {"at": an_hour_ago, "timezone": "Asia/Seoul", "to": ["reader@example.org"],
                   "outbox": str(tmp_path / "outbox"), "send_empty": True},
    }
    folders = [tmp_path / name for name in ("scheduler-a", "scheduler-b", "worker-a", "worker-b")]
    configs = [_config(folder, postgres_url, redis.url, sources, **sections) for folder in folders]
    schedulers = [_start(configs[0], "scheduler"), _start(configs[1], "scheduler")]
    workers = [_start(configs[2], "worker"), _start(configs[3], "worker")]
    everyone = schedulers + workers
    try:
        def first_rounds() -> bool:
            runs = _runs(postgres_url)
            done = {name for name, _, status, *_ in runs if status != "running"}
            hung = [r for r in runs if r[0] == "hung" and r[2] == "running"]
            return {"kr", "en", "news"} <= done and bool(hung) and bool(
                list((tmp_path / "outbox").glob("*.eml")))

        assert wait_for(first_rounds, 140), f"the first rounds did not end\n{_logs(folders)}"
        assert all(p.poll() is None for p in everyone), _logs(folders)
        runs = _runs(postgres_url)
        assert {name: status for name, _, status, *_ in runs if name != "hung"} == {
            "kr": "ok", "en": "ok", "news": "ok"}, runs
        stored = databases.rows(postgres_url, "SELECT url FROM articles")
        assert len(stored) >= 10
        articles = [r.path for r in fresh_portal.requests()
                    if "/article/" in r.path or "/story/" in r.path]
        assert articles and len(articles) == len(set(articles)), "an article was fetched twice"

        # Kill -9 the active scheduler and the worker polling the hung feed, whole process trees.
        leader = _started_by(int(_holder(redis, "scheduler").rsplit(":", 1)[1]), schedulers)
        busy = _started_by(int(_holder(redis, "source:hung").rsplit(":", 1)[1]), workers)
        _kill_tree(leader)
        _kill_tree(busy)
        standby = next(p for p in schedulers if p is not leader)

        def taken_over() -> bool:
            holder = _holder(redis, "scheduler")
            runs = [r for r in _runs(postgres_url) if r[0] == "hung"]
            return (holder is not None and holder.endswith(f":{standby.pid}")
                    and len(runs) >= 2 and runs[0][2] == "abandoned")

        assert wait_for(taken_over, 150), (
            f"{_holder(redis, 'scheduler')=} {_runs(postgres_url)}\n{_logs(folders)}")
        hung = [r for r in _runs(postgres_url) if r[0] == "hung"]
        assert "lease" in hung[0][5] and hung[1][3] > hung[0][3]

        # One round per source at a time, across machines; every article stored once.
        for name, *_ in FEEDS:
            spans = sorted((r[3], r[4] or "9999") for r in _runs(postgres_url) if r[0] == name)
            assert all(a[1] <= b[0] for a, b in pairwise(spans)), spans
        urls = [u for (u,) in databases.rows(postgres_url, "SELECT url FROM articles")]
        assert len(urls) == len(set(urls))
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1, "the digest went out twice"
        assert databases.rows(postgres_url, "SELECT COUNT(*) FROM digests")[0][0] == 1
    finally:
        codes = _stop([p for p in everyone if p.poll() is None])
    assert all(code == 0 for code in codes), f"{codes}\n{_logs(folders)}"
    # A round one worker started and the other ended stays as recorded when they stop.
    assert {r[2] for r in _runs(postgres_url) if r[0] != "hung"} == {"ok"}, _runs(postgres_url)


def test_redis_away_for_a_minute_delays_polls_and_loses_none(
    tmp_path: Path, fresh_portal: Portal, redis: RedisServer, postgres_url: str
) -> None:
    sources = [{"name": name, kind: fresh_portal.url_for(path), "every": "1m", "language": language}
               for name, path, kind, language in FEEDS]
    config = _config(tmp_path / "all", postgres_url, redis.url, sources,
                     crawl={"round_timeout": "30s", "stop_grace_seconds": 3})
    daemon = _start(config, "all")
    try:
        def rounds(at_least: int) -> Callable[[], bool]:
            def enough() -> bool:
                ended = [r for r in _runs(postgres_url) if r[2] != "running"]
                return all(sum(r[0] == name for r in ended) >= at_least for name, *_ in FEEDS)
            return enough

        assert wait_for(rounds(1), 90), _logs([tmp_path / "all"])
        before = len(_runs(postgres_url))
        redis.stop()
        time.sleep(70)  # every source falls due while Redis is away
        assert daemon.poll() is None, "the daemon died without Redis"
        assert len(_runs(postgres_url)) == before, "a round ran without Redis"
        shown = json.loads(newswatch(config, "sources", "--format", "json").stdout)
        assert any("Redis unreachable" in (row["last_error"] or "") for row in shown), shown
        redis.start()
        # Back: every source is polled again (its poll, or its lost round-end, planned again).
        assert wait_for(rounds(2), 120), _logs([tmp_path / "all"])
        statuses = {r[2] for r in _runs(postgres_url)}
        assert statuses <= {"ok", "running"}, _runs(postgres_url)
    finally:
        codes = _stop([daemon])
    assert codes == [0], _logs([tmp_path / "all"])


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test alone, since the test stops it."""
    databases.postgres()  # skips (or in CI fails) here when no server can be had
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_away_for_a_while_delays_rounds_and_loses_nothing(
    tmp_path: Path, fresh_portal: Portal, redis: RedisServer, own_postgres: PostgresServer
) -> None:
    url = own_postgres.create_database()
    sources = [{"name": name, kind: fresh_portal.url_for(path), "every": "1m", "language": language}
               for name, path, kind, language in FEEDS]
    config = _config(tmp_path / "all", url, redis.url, sources,
                     crawl={"round_timeout": "30s", "stop_grace_seconds": 3})
    daemon = _start(config, "all")
    try:
        def rounds(at_least: int, status: str) -> Callable[[], bool]:
            def enough() -> bool:
                ended = [r for r in _runs(url) if r[2] == status]
                return all(sum(r[0] == name for r in ended) >= at_least for name, *_ in FEEDS)
            return enough

        assert wait_for(rounds(1, "ok"), 90), _logs([tmp_path / "all"])
        stored = databases.rows(url, "SELECT COUNT(*) FROM articles")[0][0]
        own_postgres.halt()
        time.sleep(75)  # every source falls due while the database is away
        assert daemon.poll() is None, f"the daemon died without its database\n{_logs([tmp_path / 'all'])}"
        own_postgres.resume()
        # Back: every source has a whole round after the outage, and nothing stored was lost.
        assert wait_for(rounds(2, "ok"), 150), _logs([tmp_path / "all"])
        assert databases.rows(url, "SELECT COUNT(*) FROM articles")[0][0] == stored
        assert "cannot be reached" in (tmp_path / "all" / "all.log").read_text()
    finally:
        codes = _stop([daemon])
    assert codes == [0], _logs([tmp_path / "all"])
