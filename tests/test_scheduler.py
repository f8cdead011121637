"""The daemon: when things run, and a real `newswatch run` that crawls, kills, mails and stops."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crawler.config import SourceConfig
from crawler.timing import Rhythm, backoff, digest_missed, last_digest_due, poll_interval, spread
from tests import databases
from tests.conftest import write_config
from tests.portal.server import Portal
from tests.waiting import stop

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_a_thousand_overdue_sources_are_spread_within_the_smallest_interval() -> None:
    names = [f"s{n}" for n in range(1000)]
    due = spread(names, NOW, smallest=timedelta(minutes=5), parallel=16)
    assert sorted(due.values()) == list(due.values()), "in order, evenly"
    assert max(due.values()) - NOW < timedelta(minutes=5)
    assert max(due.values()) - NOW > timedelta(seconds=30), "not all in the same second"
    few = spread(names[:3], NOW, smallest=timedelta(minutes=5), parallel=16)
    assert max(few.values()) - NOW < timedelta(seconds=5), "three overdue sources go at once"


def test_auto_intervals_follow_each_sources_rhythm_both_ways() -> None:
    source = SourceConfig(name="s", feed="http://x.org/f", every_min="5m", every_max="6h")
    fixed = SourceConfig(name="f", feed="http://x.org/f", every="30m")
    busy = Rhythm(polls=48, found=96, since=NOW - timedelta(hours=24), last_new=NOW)
    quiet = Rhythm(polls=20, found=0, since=NOW - timedelta(days=2),
                   last_new=NOW - timedelta(hours=3))
    dead = Rhythm(polls=30, found=0, since=NOW - timedelta(days=7), last_new=None)
    assert poll_interval(source, busy, NOW, 0, 3)[0] == timedelta(minutes=15)
    assert "96 new in the last 24.0h" in poll_interval(source, busy, NOW, 0, 3)[1]
    assert poll_interval(source, quiet, NOW, 0, 3)[0] == timedelta(hours=1.5)
    assert poll_interval(source, dead, NOW, 0, 3) == (timedelta(hours=6), "every 6.0h (every_max): "
                                                      "nothing new for 7.0d")
    flood = Rhythm(polls=10, found=5000, since=NOW - timedelta(hours=1), last_new=NOW)
    assert poll_interval(source, flood, NOW, 0, 3)[0] == timedelta(minutes=5), "never below every_min"
    assert poll_interval(fixed, busy, NOW, 0, 3) == (timedelta(minutes=30), "every 30m (fixed)")
    slowed, why = poll_interval(fixed, busy, NOW, 4, 3)
    assert slowed == timedelta(hours=2) and "backed off" in why


def test_failing_sources_back_off_up_to_a_day() -> None:
    every = timedelta(minutes=15)
    assert backoff(every, 0, after=3) == every
    assert backoff(every, 2, after=3) == every
    assert backoff(every, 3, after=3) == every * 2
    assert backoff(every, 5, after=3) == every * 8
    assert backoff(every, 40, after=3) == timedelta(hours=24)


def test_digest_time_is_local_across_dst() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2026-03-08 is the spring-forward day in New York: 07:30 local moves from 12:30 to 11:30 UTC.
    before = last_digest_due("07:30", new_york, datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    after = last_digest_due("07:30", new_york, datetime(2026, 3, 9, 15, 0, tzinfo=UTC))
    assert before.astimezone(UTC).hour == 12 and after.astimezone(UTC).hour == 11
    assert (before.hour, before.minute) == (after.hour, after.minute) == (7, 30)


def test_missed_digest_is_detected_once() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 in Seoul, after 07:30
    assert digest_missed(None, "07:30", seoul, now)
    assert digest_missed(now - timedelta(days=1), "07:30", seoul, now)
    sent_this_morning = datetime(2026, 11, 24, 22, 31, tzinfo=UTC)  # 07:31 Seoul
    assert not digest_missed(sent_this_morning, "07:30", seoul, now)


def _rows(folder: Path, sql: str) -> list[tuple]:
    """Rows of the database of the config in `folder`; none while the daemon has not made it."""
    return databases.rows(folder, sql, missing_ok=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_daemon_crawls_kills_hung_rounds_sends_missed_digest_and_stops(
    tmp_path: Path, fresh_portal: Portal
) -> None:
    fresh_portal.set_state(slow_delay=120)
    an_hour_ago = (datetime.now(ZoneInfo("Asia/Seoul")) - timedelta(hours=1)).strftime("%H:%M")
    config = write_config(
        tmp_path,
        [{"name": "kr", "feed": fresh_portal.url_for("/kr/rss.xml"), "every": "1h",
          "language": "ko"},
         {"name": "hung", "feed": fresh_portal.url_for("/fault/slow.xml"), "every": "1h"}],
        # 20s: a busy machine can take 10s over the Korean feed's round, which must end "ok".
        crawl={"timeout": 100, "round_timeout": "20s", "stop_grace_seconds": 5},
        # send_empty: the missed digest goes out 10s after the start (scheduler.py CATCH_UP),
        # before or after the Korean feed's round has stored anything, as the machine's load has it.
        digest={"at": an_hour_ago, "timezone": "Asia/Seoul", "to": ["reader@example.org"],
                "outbox": "outbox", "send_empty": True},
    )
    daemon = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "run"],
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    db = tmp_path
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            runs = dict(_rows(db, "SELECT s.name, r.status FROM crawl_runs r JOIN sources s "
                                  "ON s.id = r.source_id WHERE r.status != 'running'"))
            if len(runs) == 2 and list((tmp_path / "outbox").glob("*.eml")):
                break
            time.sleep(0.5)
        assert daemon.poll() is None, "the daemon died"
        stderr = stop(daemon, timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, stderr
    assert runs == {"kr": "ok", "hung": "failed"}, stderr
    (error,) = _rows(db, "SELECT last_error FROM sources WHERE name = 'hung'")[0]
    assert error.startswith("round stopped at crawl.round_timeout (20s)")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1, stderr
    assert "a digest was missed" in stderr
    assert "newswatch daemon stopped" in stderr
    # One event per line, for journald.
    assert all(line[:4].isdigit() for line in stderr.splitlines() if line.strip())


def test_a_round_of_a_fixed_interval_source_reads_no_rhythm(tmp_path: Path,
                                                            database_url: str) -> None:
    """After each round the daemon plans the next poll; for a fixed `every` that needs the source
    row only, while `auto` reads the source's last week of crawl runs."""
    from crawler.config import parse_config
    from pipelines.storage.store import Store
    from scheduler import Daemon
    from tests.sql_plans import statements

    config = parse_config({"sources": [
        {"name": "fixed", "feed": "http://fixed.example/rss", "every": "15m"},
        {"name": "auto", "feed": "http://auto.example/rss", "every": "auto"}]}, base_dir=tmp_path)
    store = Store.open(database_url)
    store.sync_sources(config.sources)
    daemon = Daemon(tmp_path / "newswatch.toml", config, store)
    round_ended = {"event": "round", "status": "ok", "new_articles": 0, "skipped": 0,
                   "failures": 0}
    read = {}
    for name in ("fixed", "auto"):
        with statements(store) as seen:
            daemon.heard({**round_ended, "source": name})
        read[name] = [s for s in seen if "crawl_runs" in s]
    assert read == {"fixed": [], "auto": read["auto"]} and read["auto"], read
    due = daemon.clock.get_job("poll:fixed").trigger.run_date - datetime.now(UTC)
    assert timedelta(minutes=13) < due < timedelta(minutes=17), due
    store.close()
