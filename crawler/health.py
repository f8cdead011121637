"""A round's outcome in words: its status, its error, its counts (for the run, the source, the CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.limits import ENDED_BY

if TYPE_CHECKING:
    from crawler.rounds import Limits

TIMED_OUT = "closespider_timeout"  # a round past crawl.round_timeout
SHUTDOWN = "shutdown"  # the service stopped (SIGTERM, or its engine closed) before the round ended
CUT_SHORT = (TIMED_OUT, SHUTDOWN)


def round_status(stats: dict[str, Any], finish_reason: str) -> str:
    """`failed` when no index could be read, `partial` when some pages failed or a limit cut the
    round short, else `ok`."""
    if finish_reason not in ("finished", *CUT_SHORT) or not stats.get("newswatch/index_ok"):
        return "failed"
    if (finish_reason != "finished" or stats.get(ENDED_BY) or stats.get("newswatch/index_failed")
            or stats.get("newswatch/article_failed")):
        return "partial"
    return "ok"


def round_error(stats: dict[str, Any], finish_reason: str, errors: list[str],
                limits: Limits) -> str | None:
    """The round's error in words a user can act on: the limit that ended it, else its last error."""
    requests = stats.get("downloader/request_count", 0)
    ended_by = stats.get(ENDED_BY) or ("round_timeout" if finish_reason == TIMED_OUT else None)
    if ended_by == "round_timeout":
        return (f"round stopped at crawl.round_timeout ({limits.round_timeout}) after {requests} "
                "requests; raise it if this source needs longer")
    if ended_by == "max_requests_per_round":
        dropped = stats.get("newswatch/limit/max_requests_per_round", 0)
        return (f"round stopped at crawl.max_requests_per_round ({limits.max_requests}): {dropped} "
                "more requests not made (a sitemap index that keeps linking to new ones?); raise it "
                "if the source is genuine")
    if finish_reason == SHUTDOWN:
        return f"round stopped after {requests} requests: newswatch was shutting down"
    if errors:
        return errors[-1]
    if round_status(stats, finish_reason) == "failed":
        return "no feed, sitemap or listing page could be read this round"
    return None


def round_counts(stats: dict[str, Any]) -> dict[str, int]:
    skipped = sum(v for k, v in stats.items() if k.startswith(("newswatch/skipped/", "dedupe/",
                                                                  "clean/dropped/")))
    return {
        "new_articles": stats.get("store/stored", 0),
        "skipped": skipped,
        "failures": stats.get("newswatch/index_failed", 0) + stats.get("newswatch/article_failed", 0),
        "requests": stats.get("downloader/request_count", 0),
        "bytes": stats.get("downloader/response_bytes", 0),
    }
