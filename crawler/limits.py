"""Every request passes its round's gate just before it is downloaded: the round must still be on,
the request on the source's sites, within crawl.max_requests_per_round, and it gets no more time
than the round has left (crawl.round_timeout).

One engine crawls every source, so these are a source's limits, not the engine's. The gate is a
downloader middleware, not a check when a request is scheduled: a request dropped here reaches its
errback, so its round knows it is gone (and a feed redirected to another site says so).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

from pipelines.dedupe.identity import on_site

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request

    from crawler.rounds import Rounds

logger = logging.getLogger(__name__)
ENDED_BY = "newswatch/ended_by"  # a round's stats key: which limit ended the round
# A request may run this long past its round's deadline: the round is then closed by its errback.
GRACE_SECONDS = 2.0


class RoundDropped(IgnoreRequest):
    """A request its round may not make; the message says why, in words."""


class RoundGate:
    """A downloader middleware holding each request to its round's limits."""

    def __init__(self, rounds: Rounds, timeout: float) -> None:
        self.rounds = rounds
        self.timeout = timeout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings["NEWSWATCH_ROUNDS"], crawler.settings.getfloat("DOWNLOAD_TIMEOUT"))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if "source" not in request.meta:  # robots.txt, fetched by Scrapy's middleware for ours
            return
        current = self.rounds.of(request.meta)
        if current is None or current.over:
            raise RoundDropped("its round is over")
        if current.timed_out:
            current.limit_reached("round_timeout")
            raise RoundDropped(f"round limit reached (crawl.round_timeout, {current.limits.round_timeout})")
        if not on_site(request.url, current.domains()):
            raise RoundDropped(self._offsite(request))
        if not current.take_request():
            current.limit_reached("max_requests_per_round")
            # What was not fetched was not dealt with: its index is read again next round.
            current.unsettle(request.meta.get("from_index") or request.url)
            raise RoundDropped(f"round limit reached (crawl.max_requests_per_round, "
                               f"{current.limits.max_requests})")
        request.meta["download_timeout"] = max(0.5, min(
            request.meta.get("download_timeout", self.timeout), current.seconds_left() + GRACE_SECONDS))

    @staticmethod
    def _offsite(request: Request) -> str:
        """A redirect to a site the source may not fetch from (the spider never asks for one)."""
        origin = (request.meta.get("redirect_urls") or [request.url])[0]
        host = urlsplit(request.url).hostname
        return (f"{origin} redirects to another site ({request.url}), not followed: if the source "
                f"moved, change its URL in the config, or add \"{host}\" to its allowed_domains")
