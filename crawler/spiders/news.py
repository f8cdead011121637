"""The one spider of the crawl service: every source's index and article pages, each request on its
source's round (crawler/rounds.py).

A source's kind picks the reader of its index (feed, sitemap, listing: plain functions of a
response); the rest is the same for all: article requests for the links not fetched before, and
fault accounting on the source. Every request carries only plain data in `meta` (the source's
name, what the index said of the link), so a request can be queued anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionRefusedError as TwistedConnectionRefused
from twisted.internet.error import DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from crawler.items import ArticleItem
from crawler.limits import RoundDropped
from crawler.spiders.candidates import IndexPage, site_domain
from crawler.spiders.feed import read_feed
from crawler.spiders.listing import read_listing
from crawler.spiders.sitemap import read_sitemap
from pipelines.dedupe.identity import canonical_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from crawler.rounds import Round, Rounds

logger = logging.getLogger(__name__)
GONE = frozenset({404, 410})
READERS: dict[str, Callable[[Response, Round], IndexPage]] = {
    "feed": read_feed, "sitemap": read_sitemap, "listing": read_listing,
}


class NewsSpider(scrapy.Spider):
    """Reads every source's index and articles; the rounds say which source a response is for."""

    name = "newswatch"

    def __init__(self, rounds: Rounds, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rounds = rounds

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, rounds=crawler.settings["NEWSWATCH_ROUNDS"],
                                      **kwargs)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        crawler.signals.connect(spider.item_done, signal=signals.item_scraped)
        crawler.signals.connect(spider.item_done, signal=signals.item_dropped)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        """Rounds bring their own first requests (crawler/service.py); nothing to start with."""
        return
        yield  # an async generator that yields nothing

    # -- requests -------------------------------------------------------------------------------

    def index_request(self, current: Round, url: str, **meta: Any) -> Request:
        """The first request of a round, or another page of its index; the round counts it."""
        current.started_one()
        return self._request(current, url, self.parse_index, self.index_failed,
                             {"index": True, **meta}, priority=10)

    def _request(self, current: Round, url: str, callback: Callable[..., Any],
                 errback: Callable[..., Any], meta: dict[str, Any], priority: int = 0) -> Request:
        # One download slot per site, whichever source asks: politeness is per site, across sources.
        return Request(url, callback=callback, errback=errback, priority=priority, dont_filter=True,
                       meta={"source": current.name, "run": current.run_id,
                             "download_slot": site_domain(url), **meta})

    # -- the index ------------------------------------------------------------------------------

    def parse_index(self, response: Response) -> Iterator[Request]:
        current = self.rounds.of(response.meta)
        if current is None:
            return
        try:
            current.inc_value("downloader/response_bytes", len(response.body))
            page = READERS[current.source.kind](response, current)
            if page.broken:
                current.unsettle(response.url)
                current.error("newswatch/index_failed", f"{response.url}: {page.broken}")
                return
            current.inc_value("newswatch/index_ok")
            if "cached" in response.flags:
                current.inc_value("newswatch/index_not_modified")
            if response.meta.get("unconditional"):
                current.inc_value("newswatch/index_unconditional")
            current.vouch(page.domains)
            for url, meta in page.more:
                yield self.index_request(current, url, **meta)
            for candidate in current.new_candidates(page.candidates, response.url):
                current.started_one()
                yield self._request(current, candidate.url, self.parse_article, self.article_failed,
                                    {"dont_cache": True, "candidate": candidate,
                                     "from_index": response.url})
        finally:
            current.done_one()

    def index_failed(self, failure: Failure) -> None:
        current = self.rounds.of(failure.request.meta)
        if current is None:
            return
        try:
            current.unsettle(failure.request.url)
            if failure.check(RoundDropped) and "round limit" in str(failure.value):
                return  # counted and said once by the round (crawler/limits.py)
            current.error("newswatch/index_failed", describe_failure(failure))
        finally:
            current.done_one()

    # -- the articles ---------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[ArticleItem]:
        current = self.rounds.of(response.meta)
        if current is None:
            return
        try:
            current.inc_value("downloader/response_bytes", len(response.body))
            if not isinstance(response, TextResponse):
                current.inc_value("newswatch/skipped/not_html")
                return
            candidate = response.meta["candidate"]
            current.started_one()  # the item, until the pipeline is done with it
            yield ArticleItem(
                source=current.name,
                run_id=current.run_id,
                url=response.url,
                body=response.body,
                content_type=_header(response, b"Content-Type"),
                language_hint=current.source.language,
                feed_title=candidate.title,
                feed_summary=candidate.summary,
                feed_published=candidate.published,
                trusted_domains=current.configured_domains,
            )
        finally:
            current.done_one()

    def article_failed(self, failure: Failure) -> None:
        current = self.rounds.of(failure.request.meta)
        if current is None:
            return
        try:
            self._article_failed(current, failure)
        finally:
            current.done_one()

    def _article_failed(self, current: Round, failure: Failure) -> None:
        request = failure.request
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            message = str(failure.value)
            if failure.check(RoundDropped) and "another site" in message:
                current.inc_value("newswatch/skipped/offsite_redirect")
            elif "robots.txt" in message:
                current.inc_value("newswatch/skipped/robots")
            else:  # the round's limits (crawler/limits.py) say so in the round's error
                current.inc_value("newswatch/skipped/ignored")
                current.unsettle(request.meta.get("from_index", ""))
            logger.info("[%s] skipped: %s", current.name, describe_failure(failure))
            return
        gone = failure.check(HttpError) and failure.value.response.status in GONE
        if gone:  # gone for good: remember it, so no later round asks again
            current.store.record_pages([canonical_url(request.url)], url=request.url,
                                       source_id=current.source_id,
                                       outcome=f"http_{failure.value.response.status}")
        else:  # worth another try: read its index again next round
            current.unsettle(request.meta.get("from_index", ""))
        current.error("newswatch/article_failed", describe_failure(failure))

    # -- items and our own failures -------------------------------------------------------------

    def item_done(self, item: Any, **_: Any) -> None:
        current = self.rounds.of_item(item)
        if current is not None:
            current.done_one()

    def item_failed(self, item: Any, response: Response | None, spider: scrapy.Spider,
                    failure: Failure) -> None:
        """A pipeline stage that broke on an article: counted on the source, said in one line."""
        current = self.rounds.of_item(item)
        if current is None:
            return
        if response is not None:
            current.unsettle(response.meta.get("from_index", ""))
        current.error("newswatch/article_failed", f"could not process {getattr(item, 'url', '?')}: "
                                                  f"{failure.type.__name__}: {failure.getErrorMessage()}")
        current.done_one()

    def callback_failed(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        """A page that broke our own reading of it: a failure of that page, said in words."""
        current = self.rounds.of(response.meta)
        if current is None:
            return
        if response.meta.get("index"):
            current.unsettle(response.url)
            current.error("newswatch/index_failed",
                          f"{response.url}: could not read it: {failure.getErrorMessage()}")
        else:
            current.unsettle(response.meta.get("from_index", ""))
            current.error("newswatch/article_failed",
                          f"could not read {response.url}: {failure.getErrorMessage()}")


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def describe_failure(failure: Failure) -> str:
    """Why a request failed, in one line a user can act on, the cause first: a table column cut
    short still says what happened."""
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    parts = urlsplit(url)
    host = parts.hostname or url
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"HTTP {status} {_HTTP_REASONS.get(status, '')}".rstrip() + f" from {url}"
    message = str(failure.value) or failure.type.__name__
    if failure.check(RoundDropped) and "another site" in message:
        return message
    if failure.check(IgnoreRequest):
        if "robots.txt" in message:
            return f"robots.txt of {host} forbids {url}"
        return f"{message} ({url})"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return f"DNS lookup failed for {host}: no such host, or no network ({url})"
    if failure.check(DownloadConnectionRefusedError, TwistedConnectionRefused):
        return f"connection refused by {parts.netloc}: is the site up? ({url})"
    if failure.check(TwistedTimeoutError, DownloadTimeoutError):
        seconds = request.meta.get("download_timeout") if request is not None else None
        within = f" within {seconds:g}s" if isinstance(seconds, int | float) else ""
        return f"no answer from {host}{within} (crawl.timeout) ({url})"
    if failure.check(CancelledError, DownloadCancelledError):
        # The downloader cancels a body that passes DOWNLOAD_MAXSIZE; nothing else cancels here.
        return f"page over crawl.max_page_bytes, download cancelled ({url})"
    if failure.check(ResponseDataLossError):
        return f"{host} closed the connection in the middle of the page ({url})"
    if "SSL" in message or "TLS" in message or "certificate" in message:
        return f"TLS with {host} failed: {message} ({url})"
    return f"{failure.type.__name__}: {message} ({url})"


_HTTP_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
                 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                 503: "Service Unavailable", 504: "Gateway Timeout"}
