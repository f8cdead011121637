"""Records each crawl round of a source and carries its outcome onto the source's health."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.spiders.base import SourceSpider

logger = logging.getLogger(__name__)


def round_status(stats: dict[str, Any], finish_reason: str) -> str:
    """`failed` when no index could be read, `partial` when some pages failed, else `ok`."""
    if finish_reason not in ("finished",) or not stats.get("newswatch/index_ok"):
        return "failed"
    if stats.get("newswatch/index_failed") or stats.get("newswatch/article_failed"):
        return "partial"
    return "ok"


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
        if spider.store is None or self.run_id is None:
            return
        stats = self.crawler.stats.get_stats()
        status = round_status(stats, reason)
        error = spider.errors[-1] if spider.errors else None
        if status == "failed" and error is None:
            error = f"round ended: {reason}"
        spider.store.finish_run(
            self.run_id, status=status, error=error, counts=round_counts(stats),
            stats={k: v for k, v in stats.items() if isinstance(v, int | float | str)},
            unconditional=bool(stats.get("newswatch/index_unconditional")),
            # A round cut short has not dealt with its links: keep what the last whole one said.
            settled_indexes=spider.settled_now() if reason == "finished" else None,
        )
        logger.info("[%s] round %s: %s", spider.name, status, round_counts(stats))
