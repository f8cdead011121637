"""One-off fetches for `sources add` and `sources test`, held to the crawl's own limits.

A discovery fetch is still a fetch from a site that may be hostile, so it keeps the crawl's rules
(crawler/settings.py): only http(s), robots.txt obeyed for the newswatch agent (read with Protego,
Scrapy's parser), `crawl.timeout` per request and for the whole body (a server that drips bytes
is cut off), at most `crawl.max_page_bytes`, at most five redirects, each one checked again
(scheme, site, robots.txt), the configured User-Agent, `crawl.download_delay` between requests,
and a cap on requests per command.
Synchronous urllib rather than a Scrapy engine: a command makes a dozen requests, one after the
other, and shows each; starting the reactor for that would cost more than the fetches.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from protego import Protego
from scrapy.http import Headers, Request
from scrapy.http.response import Response
from scrapy.responsetypes import responsetypes
from w3lib.url import safe_url_string

from pipelines.dedupe.identity import on_site

if TYPE_CHECKING:
    from crawler.config import CrawlConfig

logger = logging.getLogger(__name__)
ROBOTS_AGENT = "newswatch"  # as ROBOTSTXT_USER_AGENT in crawler/settings.py
MAX_REDIRECTS = 5
MAX_REQUESTS = 40  # per command: discovery tries a handful of paths, never a site's whole tree
_CHUNK = 64 * 1024


class FetchRefused(Exception):
    """A fetch not made or not finished; the message says why in words (robots.txt, size, time)."""


@dataclass
class Fetched:
    """A page as served: the URL after redirects, status, Content-Type and body."""

    url: str
    status: int
    content_type: str | None
    body: bytes

    def response(self) -> Response:
        """The page as the Scrapy response the crawl's readers take (HTML, XML or text)."""
        headers = Headers({"Content-Type": self.content_type} if self.content_type else {})
        cls = responsetypes.from_args(headers=headers, url=self.url, body=self.body)
        # The readers look at request.meta (a sitemap's depth); a fresh request has none.
        return cls(url=self.url, status=self.status, headers=headers, body=self.body,
                   request=Request(self.url))


@dataclass
class PoliteFetcher:
    """Fetches within `domains` (registrable domains, as a source's round has them)."""

    crawl: CrawlConfig
    domains: list[str]
    max_requests: int = MAX_REQUESTS
    requested: list[str] = field(default_factory=list)  # every URL asked for, robots.txt included
    _robots: dict[str, Protego | None] = field(default_factory=dict, init=False, repr=False)
    _last: float | None = field(default=None, init=False, repr=False)

    # -- robots.txt ------------------------------------------------------------------------------

    def robots_verdict(self, url: str) -> tuple[bool, str]:
        """(allowed, why) for `url` by its site's robots.txt; `crawl.obey_robots = false` allows all."""
        if not self.crawl.obey_robots:
            return True, "robots.txt not consulted (crawl.obey_robots = false)"
        parser = self.robots(url)
        if parser is None:
            return True, "no robots.txt (everything allowed)"
        if parser.can_fetch(url, ROBOTS_AGENT):
            return True, f"allowed for {ROBOTS_AGENT} by robots.txt"
        return False, f"robots.txt of {urlsplit(url).netloc} forbids {ROBOTS_AGENT} to fetch {url}"

    def robots(self, url: str) -> Protego | None:
        """The site's parsed robots.txt, read once; None when there is none (or it fails, as Scrapy)."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            try:
                page = self._get(f"{site}/robots.txt", check_robots=False)
                text = page.body.decode("utf-8", errors="replace") if page.status == 200 else ""
                self._robots[site] = Protego.parse(text) if text else None
            except FetchRefused as exc:
                logger.info("robots.txt of %s not read (%s): everything allowed, as in a crawl",
                            site, exc)
                self._robots[site] = None
        return self._robots[site]

    def sitemaps(self, url: str) -> list[str]:
        """The `Sitemap:` lines of the site's robots.txt."""
        parser = self.robots(url)
        return list(parser.sitemaps) if parser is not None else []

    # -- fetching --------------------------------------------------------------------------------

    def get(self, url: str) -> Fetched:
        """The page, or FetchRefused saying why not (robots.txt, another site, size, time, HTTP)."""
        return self._get(url, check_robots=True)

    def _check(self, url: str, *, check_robots: bool) -> str:
        url = safe_url_string(url.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"{url}: only http:// and https:// addresses are fetched")
        if not on_site(url, self.domains):
            raise FetchRefused(f"{url} is on another site than {', '.join(self.domains)}; not fetched")
        if check_robots:
            allowed, why = self.robots_verdict(url)
            if not allowed:
                raise FetchRefused(why)
        if len(self.requested) >= self.max_requests:
            raise FetchRefused(f"{url}: not fetched, this command's {self.max_requests} requests are used")
        return url

    def _get(self, url: str, *, check_robots: bool) -> Fetched:
        url = self._check(url, check_robots=check_robots)
        fetcher = self

        class _Redirects(urllib.request.HTTPRedirectHandler):
            max_redirections = MAX_REDIRECTS

            def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                                 newurl: str) -> Any:
                fetcher._check(newurl, check_robots=check_robots)
                fetcher.requested.append(newurl)
                return super().redirect_request(req, fp, code, msg, headers, newurl)

        opener = urllib.request.build_opener(_Redirects)
        request = urllib.request.Request(url, headers={"User-Agent": self.crawl.user_agent,
                                                       "Accept-Encoding": "identity"})
        self._wait_turn()
        self.requested.append(url)
        deadline = time.monotonic() + self.crawl.timeout
        try:
            with opener.open(request, timeout=self.crawl.timeout) as answer:
                return Fetched(answer.geturl(), answer.status, answer.headers.get("Content-Type"),
                               self._read(answer, url, deadline))
        except urllib.error.HTTPError as exc:
            body = self._read(exc, url, deadline) if exc.fp is not None else b""
            return Fetched(exc.geturl() or url, exc.code, exc.headers.get("Content-Type"), body)
        except urllib.error.URLError as exc:
            raise FetchRefused(f"{url}: could not fetch ({exc.reason})") from None
        except (TimeoutError, OSError) as exc:
            raise FetchRefused(f"{url}: could not fetch ({exc})") from None

    def _wait_turn(self) -> None:
        """`crawl.download_delay` between two requests, as a crawl spaces its requests to a site
        (every request here goes to the one site)."""
        if self._last is not None:
            time.sleep(max(0.0, self.crawl.download_delay - (time.monotonic() - self._last)))
        self._last = time.monotonic()

    def _read(self, answer: Any, url: str, deadline: float) -> bytes:
        limit = self.crawl.max_page_bytes
        length = answer.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise FetchRefused(f"{url} is {length} bytes, more than crawl.max_page_bytes ({limit})")
        chunks, size = [], 0
        while chunk := answer.read(_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"{url} is more than crawl.max_page_bytes ({limit} bytes)")
            if time.monotonic() > deadline:
                raise FetchRefused(f"{url} took longer than crawl.timeout ({self.crawl.timeout:g}s)")
        return b"".join(chunks)
