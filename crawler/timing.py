"""When things should run: each source's next poll (its own rhythm, failure backoff, the spread
after a restart) and the daily digest."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from crawler.config import SourceConfig

MAX_BACKOFF = timedelta(hours=24)


@dataclass(frozen=True)
class Rhythm:
    """A source's recent polls: how many in the window, the new articles found by all but the
    first (whose haul is the feed's backlog), the first one's start, and when a poll last found
    something (ever)."""

    polls: int = 0
    found: int = 0
    since: datetime | None = None
    last_new: datetime | None = None


# The adaptive interval reads the source's rhythm over this much of its history.
RATE_WINDOW = timedelta(days=7)
# A poll of an unchanged source costs about this much of the service's time (a conditional GET):
# overdue sources after a restart are spread by it, divided among the parallel rounds.
POLL_COST = timedelta(seconds=1)
FIRST_INTERVAL = timedelta(minutes=30)


def poll_interval(source: SourceConfig, rhythm: Rhythm, now: datetime, failures: int,
                  backoff_after: int) -> tuple[timedelta, str]:
    """The source's current interval, and why, in words `newswatch sources` can show.

    `every = "auto"` follows the source's own rhythm, between `every_min` and `every_max`: about one
    new article a poll, from the articles its polls found over the last week (faster when new ones
    keep coming), and half the time it has been silent when they found none (slower, the longer
    nothing comes). Failing rounds past `crawl.backoff_after` double it.
    """
    if not source.adaptive:
        interval, reason = source.interval, f"every {source.every} (fixed)"
    else:
        low, high = source.interval_bounds
        if rhythm.polls < 2 or rhythm.since is None:  # the first poll found the backlog
            interval, why = FIRST_INTERVAL, "too few polls yet to know its rhythm"
        elif rhythm.found:
            span = max(now - rhythm.since, low)
            interval, why = span / rhythm.found, f"{rhythm.found} new in the last {_words(span)}"
        else:
            silence = now - (rhythm.last_new or rhythm.since)
            interval, why = silence / 2, f"nothing new for {_words(silence)}"
        interval = min(max(interval, low), high)
        bound = {low: " (every_min)", high: " (every_max)"}.get(interval, "")
        reason = f"every {_words(interval)}{bound}: {why}"
    waited = backoff(interval, failures, backoff_after)
    if waited != interval:
        reason += f"; backed off to {_words(waited)} after {failures} failed rounds"
    return waited, reason


def spread(names: Sequence[str], now: datetime, smallest: timedelta, parallel: int
           ) -> dict[str, datetime]:
    """When each overdue source is polled after a (re)start: evenly over a window long enough for
    the service to keep up (POLL_COST each, `parallel` at once) and never longer than the smallest
    interval, so a thousand overdue sources are all polled within it."""
    if not names:
        return {}
    window = min(smallest, max(timedelta(seconds=5), POLL_COST * len(names) / max(parallel, 1)))
    step = window / len(names)
    return {name: now + step * i for i, name in enumerate(names)}


def jitter(interval: timedelta) -> timedelta:
    """The interval give or take 5 % (at most a minute): sources added together drift apart."""
    spread_s = min(60.0, interval.total_seconds() * 0.05)
    return interval + timedelta(seconds=random.uniform(-spread_s, spread_s))


def _words(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def backoff(every: timedelta, failures: int, after: int) -> timedelta:
    """How long to wait since the last attempt: the interval, doubled per failure past `after`."""
    if failures < after:
        return every
    # Capped exponent: a source failing for months must not overflow timedelta.
    return min(every * (2 ** min(failures - after + 1, 20)), max(MAX_BACKOFF, every))


def last_digest_due(at: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent moment (up to now) the daily digest was scheduled, in UTC-aware form.

    Computed in the digest's own zone, so 07:30 stays 07:30 local across DST changes.
    """
    hour, minute = (int(part) for part in at.split(":"))
    local_now = now.astimezone(tz)
    due = datetime.combine(local_now.date(), time(hour, minute), tzinfo=tz)
    if due > local_now:
        due = datetime.combine(local_now.date() - timedelta(days=1), time(hour, minute), tzinfo=tz)
    return due


def digest_missed(last_attempt: datetime | None, at: str, tz: ZoneInfo, now: datetime) -> bool:
    """True when the latest scheduled digest time passed with no digest made since."""
    due = last_digest_due(at, tz, now)
    return last_attempt is None or last_attempt < due
