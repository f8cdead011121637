"""What every source spider shares: the index request, the article requests, and fault accounting."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

import scrapy
import tldextract
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from crawler.items import ArticleItem
from pipelines.db import Store
from pipelines.identity import canonical_url, on_site

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
        # only these are trusted to name an article's canonical URL (pipelines/identity.py).
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
            self.crawler.stats.inc_value("newswatch/skipped/ignored")
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
    """A one-line, user-readable account of why a request failed."""
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    if failure.check(HttpError):
        return f"{url}: HTTP {failure.value.response.status}"
    message = str(failure.value) or failure.type.__name__
    if failure.check(TwistedTimeoutError, DownloadTimeoutError):
        return f"{url}: timed out ({message})"
    if failure.check(CancelledError, DownloadCancelledError):
        # The downloader cancels a body that passes DOWNLOAD_MAXSIZE; nothing else cancels here.
        return f"{url}: page over the size limit, download cancelled ({message})"
    if failure.check(DownloadConnectionRefusedError):
        return f"{url}: connection refused"
    return f"{url}: {failure.type.__name__}: {message}"
