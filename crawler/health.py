"""Records each crawl round of a source and carries its outcome onto the source's health."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals

from crawler.limits import ENDED_BY

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from crawler.spiders.base import SourceSpider

logger = logging.getLogger(__name__)
TIMED_OUT = "closespider_timeout"  # CloseSpider's reason when CLOSESPIDER_TIMEOUT passed


def round_status(stats: dict[str, Any], finish_reason: str) -> str:
    """`failed` when no index could be read, `partial` when some pages failed or a limit cut the
    round short, else `ok`."""
    if finish_reason not in ("finished", TIMED_OUT) or not stats.get("newswatch/index_ok"):
        return "failed"
    if (finish_reason != "finished" or stats.get(ENDED_BY) or stats.get("newswatch/index_failed")
            or stats.get("newswatch/article_failed")):
        return "partial"
    return "ok"


def round_error(stats: dict[str, Any], finish_reason: str, errors: list[str],
                settings: BaseSettings) -> str | None:
    """The round's error in words a user can act on: the limit that ended it, else its last error."""
    requests = stats.get("downloader/request_count", 0)
    ended_by = stats.get(ENDED_BY) or ("round_timeout" if finish_reason == TIMED_OUT else None)
    if ended_by == "round_timeout":
        return (f"round stopped at crawl.round_timeout ({settings.get('NEWSWATCH_ROUND_TIMEOUT')}) "
                f"after {requests} requests; raise it if this source needs longer")
    if ended_by == "max_requests_per_round":
        dropped = stats.get("newswatch/limit/max_requests_per_round", 0)
        return (f"round stopped at crawl.max_requests_per_round "
                f"({settings.getint('NEWSWATCH_MAX_REQUESTS')}): {dropped} more requests not made "
                "(a sitemap index that keeps linking to new ones?); raise it if the source is genuine")
    if errors:
        return errors[-1]
    if round_status(stats, finish_reason) == "failed":
        if finish_reason == "finished":
            return "no feed, sitemap or listing page could be read this round"
        return f"the round ended early ({finish_reason}) before its index was read"
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


class CrawlRunRecorder:
    """Opens a crawl_runs row when a source's spider starts and closes it with its counts."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def spider_opened(self, spider: SourceSpider) -> None:
        if spider.store is not None:
            self.run_id = spider.store.start_run(spider.source_id)

    def spider_closed(self, spider: SourceSpider, reason: str) -> None:
        stats = self.crawler.stats
        values = stats.get_stats()
        status = round_status(values, reason)
        error = round_error(values, reason, spider.errors, self.crawler.settings)
        # For the command line's summary (crawler/run.py), which reads the stats.
        stats.set_value("newswatch/status", status)
        stats.set_value("newswatch/error", error)
        if spider.store is None or self.run_id is None:
            return
        counts = round_counts(values)
        finished = reason == "finished" and not values.get(ENDED_BY)
        spider.store.finish_run(
            self.run_id, status=status, error=error, counts=counts,
            stats={k: v for k, v in values.items() if isinstance(v, int | float | str)},
            unconditional=bool(values.get("newswatch/index_unconditional")),
            # A round cut short has not dealt with its links: keep what the last whole one said.
            settled_indexes=spider.settled_now() if finished else None,
        )
        logger.info("[%s] round %s: %d new, %d skipped, %d failed, %d requests", spider.name, status,
                    counts["new_articles"], counts["skipped"], counts["failures"], counts["requests"])
