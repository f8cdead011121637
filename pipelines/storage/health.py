"""Source health as users see it: failing, silent, or fetching pages that hold no article text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from pipelines.storage.models import Article, CrawlRun

if TYPE_CHECKING:
    from crawler.config import Config, SourceConfig
    from pipelines.storage.models import Source
    from pipelines.storage.store import Store

# A source is silent when its quiet spell is this many times its usual gap between new items.
SILENT_FACTOR = 6
MIN_HISTORY = 5
RECENT_RUNS = 3


def diagnose(store: Store, source: SourceConfig, row: Source, failing_after: int,
             now: datetime | None = None) -> str:
    """`ok`, `never run`, or what needs attention, in words a user can act on."""
    now = now or datetime.now(UTC)
    if row.last_run_at is None:
        return "never run"
    failures = row.consecutive_failures
    if failures:  # never "ok" beside a failed last round
        backed_off = ", backed off" if failures >= failing_after else ""
        return f"failing {failures} round{'s' if failures > 1 else ''} in a row{backed_off}"
    with store.session() as session:
        recent = list(session.scalars(
            select(CrawlRun).where(CrawlRun.source_id == row.id, CrawlRun.status != "running")
            .order_by(CrawlRun.started_at.desc()).limit(RECENT_RUNS)))
        since = now - timedelta(days=30)
        count, first, last = session.execute(
            select(func.count(), func.min(Article.fetched_at), func.max(Article.fetched_at))
            .where(Article.source_id == row.id, Article.fetched_at >= since)).one()
    cleaned = sum(run.stats.get("clean/ok", 0) for run in recent)
    dropped = sum(v for run in recent for k, v in run.stats.items()
                  if k.startswith("clean/dropped/"))
    if len(recent) == RECENT_RUNS and cleaned == 0 and dropped >= RECENT_RUNS:
        return "pages yield no article text (has the site's layout changed?)"
    if count >= MIN_HISTORY and first and last:
        usual_gap = max((last - first) / (count - 1), source.interval)
        if now - last > usual_gap * SILENT_FACTOR:
            return f"silent: no new item for {_ago(now - last)} (usually every {_ago(usual_gap)})"
    return "ok"


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def source_rows(store: Store, config: Config) -> list[dict[str, Any]]:
    """One row per configured source, in config order, with the documented keys."""
    from crawler.timing import RATE_WINDOW, Rhythm, poll_interval

    now = datetime.now(UTC)
    by_name = {row.name: row for row in store.sources()}
    articles = store.article_counts()
    rhythms = store.rhythms(now - RATE_WINDOW)
    rows = []
    for source in config.sources:
        row = by_name[source.name]
        interval, why = poll_interval(source, rhythms.get(row.id, Rhythm()), now,
                                      row.consecutive_failures, config.crawl.backoff_after)
        rows.append({
            "name": source.name,
            "kind": source.kind,
            "url": source.url,
            "articles": articles.get(row.id, 0),
            "last_run": row.last_run_at,
            "last_status": row.last_status or "never run",
            "failures": row.consecutive_failures,
            "last_error": row.last_error,
            "health": diagnose(store, source, row, config.crawl.backoff_after),
            "interval": int(interval.total_seconds()),
            "why": why,
        })
    return rows


def attention(store: Store, config: Config) -> list[str]:
    """Lines for the digest's "sources needing attention" footer; empty when all is well.

    Only health is read: no article counts and no polling rhythms (the week of crawl runs behind
    every source's interval), which the footer does not show.
    """
    by_name = {row.name: row for row in store.sources()}
    lines = []
    for source in config.sources:
        row = by_name[source.name]
        if 0 < row.consecutive_failures < config.crawl.backoff_after:
            continue  # one bad round is not worth a reader's attention yet; a streak is
        health = diagnose(store, source, row, config.crawl.backoff_after)
        if health not in ("ok", "never run"):
            error = f": {row.last_error}" if row.last_error else ""
            lines.append(f"{row.name}: {health}{error}")
    return lines
