"""When things should run: first crawls after a restart, failure backoff, and missed digests."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_BACKOFF = timedelta(hours=24)


def first_crawl_at(
    last_run: datetime | None, every: timedelta, now: datetime, slot: int, spread: timedelta
) -> datetime:
    """When a source's first crawl after (re)start is due.

    Overdue sources are not all fired at once: each takes the next `spread` slot, so a
    restart after a long outage ramps up instead of hitting every site in the same second.
    """
    if last_run is not None and last_run + every > now:
        return last_run + every
    return now + spread * slot


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
