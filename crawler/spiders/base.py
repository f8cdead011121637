"""What every source spider shares: the index request, the article requests, and fault accounting."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import scrapy
import tldextract
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
from pipelines.dedupe.identity import canonical_url, on_site
from pipelines.storage.store import Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from crawler.config import SourceConfig

logger = logging.getLogger(__name__)
GONE = frozenset({404, 410})
# The bundled public-suffix snapshot: no network fetch at start-up.
_extract = tldextract.TLDExtract(suffix_list_urls=())


def site_domain(url: str) -> str:
    """The registrable domain (`rss.etnews.com` -> `etnews.com`), or the host for IPs."""
    parts = _extract(url)
    return parts.top_domain_under_public_suffix or parts.domain


# What a feed or sitemap may say about one link. Entities can blow a field up to megabytes; a
# title is a line, a summary a few paragraphs (it stands in for a body only when the page is empty).
MAX_TITLE = 1000
MAX_SUMMARY = 20_000
MAX_URL = 2000


def bounded(value: str | None, limit: int) -> str | None:
    """The field cut to `limit` characters: nothing a feed says grows without bound."""
    return value[:limit] if isinstance(value, str) else None


@dataclass
class Candidate:
    """An article link found on an index, with what the index said about it."""

    url: str
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None


class SourceSpider(scrapy.Spider):
    """One spider instance per configured source; subclasses read one kind of index."""

    kind: ClassVar[str]

    def __init__(self, source: SourceConfig, **kwargs: Any) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        # The configured domains; a feed's channel link may add one to allowed_domains later, but
        # only these are trusted to name an article's canonical URL (pipelines/dedupe/identity.py).
        self.configured_domains = (site_domain(source.url), *source.allowed_domains)
        self.allowed_domains = list(self.configured_domains)
        self.errors: list[str] = []
        self.article_budget = 0
        self.source_id = 0
        self.store: Store | None = None
        # Index bodies whose article links were all dealt with (see already_settled).
        self.settled: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        self.unsettled: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.store = Store.open(crawler.settings["NEWSWATCH_DATABASE_URL"])
        spider.source_id = spider.store.sync_sources([spider.source])[spider.source.name]
        spider.settled = spider.store.settled_indexes(spider.source_id)
        spider.article_budget = crawler.settings.getint("NEWSWATCH_MAX_ARTICLES", 200)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        yield self.index_request(self.source.url)

    # -- the index: feed, sitemap or listing page -----------------------------------------------

    def index_request(self, url: str, **meta: Any) -> Request:
        return Request(url, callback=self.parse_index, errback=self.index_failed,
                       meta={"index": True, **meta}, priority=10)

    def parse_index(self, response: Response) -> Iterable[Request]:
        raise NotImplementedError

    def index_ok(self, response: Response) -> None:
        self.crawler.stats.inc_value("newswatch/index_ok")
        if "cached" in response.flags:
            self.crawler.stats.inc_value("newswatch/index_not_modified")
        if response.meta.get("unconditional"):
            self.crawler.stats.inc_value("newswatch/index_unconditional")

    def already_settled(self, response: Response) -> bool:
        """Whether this index body was read before and every article link on it dealt with.

        Reading it again would only find links the store knows: an unchanged source then costs a
        304 and no parsing. A link over the round's budget, or an article that failed in a way
        worth retrying (5xx, timeout), leaves its index unsettled, so the next round reads it
        again. The digest covers the source's config too: new selectors or domains mean new links.
        """
        digest = hashlib.sha1(response.body)
        digest.update(self.source.model_dump_json().encode())
        self.digests[response.url] = digest.hexdigest()
        if self.settled.get(response.url) != self.digests[response.url]:
            return False
        self.crawler.stats.inc_value("newswatch/index_settled")
        return True

    def settled_now(self) -> dict[str, str]:
        """The indexes of this round whose article links were all dealt with, for the next one."""
        return {url: digest for url, digest in self.digests.items() if url not in self.unsettled}

    def index_broken(self, url: str, reason: str) -> None:
        """An index that answered but cannot be read (HTML instead of a feed, broken XML)."""
        self.unsettled.add(url)
        self.record_error("newswatch/index_failed", f"{url}: {reason}")

    def index_failed(self, failure: Failure) -> None:
        self.record_error("newswatch/index_failed", describe_failure(failure))

    def callback_failed(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        """A page that broke our own reading of it: a failure of that page, said in words."""
        if response.meta.get("index"):
            self.index_broken(response.url, f"could not read it: {failure.getErrorMessage()}")
        else:
            self.unsettled.add(response.meta.get("from_index", ""))
            self.record_error("newswatch/article_failed",
                              f"could not read {response.url}: {failure.getErrorMessage()}")

    def item_failed(self, item: Any, response: Response | None, spider: scrapy.Spider,
                    failure: Failure) -> None:
        """A pipeline stage that broke on an article: counted on the source, said in one line."""
        if response is not None:
            self.unsettled.add(response.meta.get("from_index", ""))
        self.record_error("newswatch/article_failed",
                          f"could not process {getattr(item, 'url', '?')}: "
                          f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def redirected_offsite(self, request: Request) -> None:
        """A redirect to a site the source may not fetch from, which Scrapy drops without a word."""
        origin = request.meta["redirect_urls"][0]
        host = urlsplit(request.url).hostname
        if request.meta.get("index"):
            self.unsettled.add(origin)
            self.record_error("newswatch/index_failed", (
                f"{origin} redirects to another site ({request.url}), not followed: if the source "
                f"moved, change its URL in the config, or add \"{host}\" to its allowed_domains"))
        else:
            self.crawler.stats.inc_value("newswatch/skipped/offsite_redirect")
            logger.info("[%s] skipped: %s redirects to another site (%s)", self.name, origin,
                        request.url)

    def record_error(self, key: str, message: str) -> None:
        self.crawler.stats.inc_value(key)
        self.errors.append(message)
        logger.warning("[%s] %s", self.name, message)

    # -- the articles ---------------------------------------------------------------------------

    def article_requests(self, candidates: Iterable[Candidate], index_url: str) -> Iterator[Request]:
        """Requests for the links not fetched before, newest first, within the round's budget."""
        stats = self.crawler.stats
        fresh: dict[str, Candidate] = {}
        for candidate in candidates:
            if not candidate.url.startswith(("http://", "https://")):
                stats.inc_value("newswatch/skipped/not_http")  # javascript:, mailto:, a typo
                continue
            if not on_site(candidate.url, self.allowed_domains):
                stats.inc_value("newswatch/skipped/offsite")
                continue
            fresh.setdefault(canonical_url(candidate.url), candidate)
        if self.store is not None:
            for known in self.store.known_urls(list(fresh)):
                del fresh[known]
                stats.inc_value("newswatch/skipped/known")
        oldest = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(fresh.values(), key=lambda c: c.published or oldest, reverse=True)
        for candidate in ordered:
            if self.article_budget <= 0:
                stats.inc_value("newswatch/skipped/over_budget")
                self.unsettled.add(index_url)
                continue
            self.article_budget -= 1
            yield Request(candidate.url, callback=self.parse_article, errback=self.article_failed,
                          meta={"dont_cache": True, "candidate": candidate, "from_index": index_url})

    def parse_article(self, response: Response) -> Iterator[ArticleItem]:
        candidate: Candidate = response.meta["candidate"]
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("newswatch/skipped/not_html")
            return
        yield ArticleItem(
            source=self.name,
            url=response.url,
            body=response.body,
            content_type=_header(response, b"Content-Type"),
            language_hint=self.source.language,
            feed_title=candidate.title,
            feed_summary=candidate.summary,
            feed_published=candidate.published,
            trusted_domains=self.configured_domains,
        )

    def article_failed(self, failure: Failure) -> None:
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            robots = "robots.txt" in str(failure.value)
            self.crawler.stats.inc_value(f"newswatch/skipped/{'robots' if robots else 'ignored'}")
            logger.info("[%s] skipped: %s", self.name, describe_failure(failure))
            return
        gone = failure.check(HttpError) and failure.value.response.status in GONE
        if gone and self.store is not None:
            # Gone for good: remember it, so no later round asks again.
            url = failure.request.url
            self.store.record_pages([canonical_url(url)], url=url, source_id=self.source_id,
                                    outcome=f"http_{failure.value.response.status}")
        else:  # worth another try: read its index again next round
            self.unsettled.add(failure.request.meta.get("from_index", ""))
        self.record_error("newswatch/article_failed", describe_failure(failure))


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
    if failure.check(IgnoreRequest) and "robots.txt" in message:
        return f"robots.txt of {host} forbids {url}"
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
