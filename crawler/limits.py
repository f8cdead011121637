"""A source's round is bounded: at most `crawl.max_requests_per_round` requests, and no request
outliving `crawl.round_timeout`.

Scrapy's CloseSpider extension ends the round at the time limit (CLOSESPIDER_TIMEOUT), but a
closing spider waits for the downloads in flight, each allowed DOWNLOAD_TIMEOUT; so every request
here gets no more time than the round has left. The request count covers every request the
engine schedules for the source (index pages, articles, retries, redirects): a sitemap index that
keeps linking to new indexes, or a listing that keeps paging, stops at the limit.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)
ENDED_BY = "newswatch/ended_by"  # stats key: which limit ended the round


class RoundLimits:
    """Counts the source's scheduled requests and drops those past the limit or the deadline."""

    def __init__(self, crawler: Crawler, max_requests: int, seconds: float, timeout: float) -> None:
        self.crawler = crawler
        self.max_requests = max_requests
        self.seconds = seconds
        self.timeout = timeout
        self.deadline = float("inf")
        self.scheduled = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        max_requests = settings.getint("NEWSWATCH_MAX_REQUESTS", 0)
        seconds = settings.getfloat("CLOSESPIDER_TIMEOUT", 0)
        if not (max_requests or seconds):
            raise NotConfigured("no round limits set")
        limits = cls(crawler, max_requests, seconds, settings.getfloat("DOWNLOAD_TIMEOUT", 180))
        crawler.signals.connect(limits.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(limits.request_scheduled, signal=signals.request_scheduled)
        return limits

    def spider_opened(self, spider: Spider) -> None:
        if self.seconds:
            self.deadline = time.monotonic() + self.seconds

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """Raising IgnoreRequest here drops the request (as Scrapy's offsite filter does)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._drop(request, "round_timeout")
        if self.max_requests and self.scheduled >= self.max_requests:
            self._drop(request, "max_requests_per_round")
        self.scheduled += 1
        request.meta["download_timeout"] = max(0.5, min(
            request.meta.get("download_timeout", self.timeout), left))

    def _drop(self, request: Request, limit: str) -> None:
        stats = self.crawler.stats
        stats.inc_value(f"newswatch/limit/{limit}")
        if stats.get_value(ENDED_BY) is None:
            stats.set_value(ENDED_BY, limit)
            logger.warning("[%s] round limit reached (crawl.%s): no more requests this round",
                           self.crawler.spider.name if self.crawler.spider else "?", limit)
        # What was not fetched was not dealt with: its index is read again next round.
        unsettled = getattr(self.crawler.spider, "unsettled", None)
        if unsettled is not None:
            unsettled.add(request.meta.get("from_index") or request.url)
        raise IgnoreRequest(f"round limit reached (crawl.{limit})")
