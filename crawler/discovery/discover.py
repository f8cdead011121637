"""What can be polled on a site, found from its home or a section page, for `newswatch sources add`.

Candidates come from the page itself (it may be a feed or a sitemap), its `<link rel="alternate">`
feeds, common feed paths beside the page and at the site's root, and the `Sitemap:` lines of
robots.txt. Each is fetched once (a sitemap index, plus its newest child) and read by the crawl's
own readers (crawler/spiders/), so what is shown is what a round would see. The best is the one
with links on the site itself, the newest items, then the most of them.

A section page's own feeds always count; the site-wide ones (the root's common paths, robots.txt's
sitemaps) count on a section page only when they carry articles the page links to: a site's news
sitemap is no feed of its sports section. A page with nothing to poll gets a `links` selector
(crawler/discovery/link_pattern.py) for a listing source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy.http import TextResponse

from crawler.config import SourceConfig
from crawler.discovery.dry_round import DryRound
from crawler.discovery.link_pattern import propose_links
from crawler.discovery.polite_fetch import FetchRefused, PoliteFetcher
from crawler.spiders.candidates import Candidate, site_domain, site_name
from crawler.spiders.feed import read_feed
from crawler.spiders.listing import read_listing
from crawler.spiders.sitemap import read_sitemap
from pipelines.dedupe.identity import canonical_url, on_site

if TYPE_CHECKING:
    from crawler.config import CrawlConfig
    from crawler.discovery.polite_fetch import Fetched

logger = logging.getLogger(__name__)
COMMON_FEED_PATHS = ("rss", "feed", "rss.xml", "atom.xml", "feed.xml", "index.xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/feed+json", "application/xml", "text/xml")
MAX_CANDIDATES = 20
# Found where: the order also breaks ties in ranking (a page's own feed before a guessed path).
PAGE_ITSELF = "the address itself"
LINK_ALTERNATE = '<link rel="alternate">'
COMMON_PATH = "common feed path"
ROBOTS_SITEMAP = "robots.txt Sitemap"
LISTING = "article links on the page"
_FOUND_ORDER = (PAGE_ITSELF, LINK_ALTERNATE, COMMON_PATH, ROBOTS_SITEMAP, LISTING)


class DiscoveryError(Exception):
    """The page itself could not be read (robots.txt, HTTP error, not a page): nothing to propose."""


@dataclass
class Proposal:
    """One pollable thing and what a round of it would see."""

    kind: str  # feed, sitemap or listing: the `[[sources]]` key
    url: str
    found_by: str
    items: list[Candidate] = field(default_factory=list)  # on the site, newest first
    offsite: int = 0
    news_sitemap: bool = False
    links: str | None = None  # the selector, for a listing
    site_wide: bool = False
    children: list[str] = field(default_factory=list)  # a sitemap index's sitemaps

    @property
    def newest(self) -> datetime | None:
        dates = [c.published for c in self.items if c.published]
        return max(dates) if dates else None

    def rank(self) -> tuple[Any, ...]:
        """Higher is better: has items on the site, newest item, how many, where it was found."""
        oldest = datetime.min.replace(tzinfo=UTC)
        return (bool(self.items), self.newest or oldest, len(self.items),
                -_FOUND_ORDER.index(self.found_by), self.kind == "feed")

    def entry(self, name: str, language: str | None) -> dict[str, Any]:
        """The `[[sources]]` table for this proposal."""
        entry: dict[str, Any] = {"name": name, self.kind: self.url}
        if self.links:
            entry["links"] = self.links
        if language:
            entry["language"] = language
        return entry


@dataclass
class Rejected:
    """A candidate that was tried and is not proposed, and why."""

    url: str
    found_by: str
    why: str


@dataclass
class Discovery:
    """Everything `sources add` shows: the proposals best first, what was tried, what was fetched."""

    page: str
    proposals: list[Proposal]
    rejected: list[Rejected]
    fetcher: PoliteFetcher  # its robots.txt is read: samples and checks reuse it

    @property
    def requested(self) -> list[str]:
        return list(self.fetcher.requested)

    @property
    def best(self) -> Proposal | None:
        return self.proposals[0] if self.proposals else None


def discover(url: str, crawl: CrawlConfig, language: str | None = None) -> Discovery:
    """Find, fetch once and rank what can be polled from `url` (a home, section, feed or sitemap)."""
    fetcher = PoliteFetcher(crawl, [site_domain(url)])
    try:
        page = fetcher.get(url)
    except FetchRefused as exc:
        raise DiscoveryError(str(exc)) from None
    if page.status != 200:
        raise DiscoveryError(f"{url}: HTTP {page.status}; give the address of the site's home or "
                             "section page")
    home = urlsplit(page.url).path in ("", "/") or urlsplit(page.url).path.rsplit("/", 1)[-1] in (
        "index.html", "index.htm", "index.php")
    response = page.response()
    found: dict[str, tuple[str, bool]] = {}  # url -> (found_by, site_wide)
    itself = _read(page, PAGE_ITSELF, False, language, crawl.max_page_bytes)
    if isinstance(itself, str):
        raise DiscoveryError(f"{page.url}: {itself}")
    page_links: set[str] = set()
    if itself is None and isinstance(response, TextResponse):
        page_links = _page_links(response, fetcher.domains)
        for href in _alternates(response):
            found.setdefault(href, (LINK_ALTERNATE, False))
        # Guessed paths only for a page that names no feed: each guess is a request to the site.
        for folder, site_wide in _folders(page.url) if not found else []:
            for path in COMMON_FEED_PATHS:
                found.setdefault(urljoin(folder, path), (COMMON_PATH, site_wide))
        for sitemap in fetcher.sitemaps(page.url):
            found.setdefault(sitemap, (ROBOTS_SITEMAP, True))
    proposals = [itself] if itself else []
    rejected: list[Rejected] = []
    seen = {canonical_url(page.url)}
    for candidate, (found_by, site_wide) in list(found.items())[:MAX_CANDIDATES]:
        if canonical_url(candidate) in seen:
            continue
        seen.add(canonical_url(candidate))
        proposal, why = _try(fetcher, candidate, found_by, site_wide, language)
        if proposal is not None and canonical_url(proposal.url) != canonical_url(candidate):
            seen.add(canonical_url(proposal.url))
        if proposal is None:
            rejected.append(Rejected(candidate, found_by, why))
        elif site_wide and not home and not _overlap(proposal, page_links):
            rejected.append(Rejected(candidate, found_by, "site-wide, with none of the articles "
                                     "this page links to"))
        else:
            proposals.append(proposal)
    proposals = _unique(proposals)
    if not proposals and isinstance(response, TextResponse):
        listing = _listing(response, fetcher.domains, language)
        if listing is not None:
            proposals.append(listing)
    proposals.sort(key=Proposal.rank, reverse=True)
    return Discovery(page.url, proposals, rejected, fetcher)


def default_name(url: str) -> str:
    """A source name from the address: the site's name (`www.etnews.com` -> `etnews`), or the host."""
    return site_name(url) if urlsplit(url).hostname else "source"


def _folders(url: str) -> list[tuple[str, bool]]:
    """The page's folder (its own feeds) and the site's root (site-wide ones)."""
    parts = urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}/"
    folder = urljoin(url, "./")
    return [(folder, False), (root, True)] if folder != root else [(root, True)]


def _alternates(response: TextResponse) -> list[str]:
    found = []
    for link in response.css('link[rel~="alternate"][href]'):
        kind = (link.attrib.get("type") or "").split(";")[0].strip().lower()
        if kind in FEED_TYPES:
            found.append(response.urljoin(link.attrib["href"].strip()))
    return found


def _page_links(response: TextResponse, domains: list[str]) -> set[str]:
    links = set()
    for href in response.css("a::attr(href)").getall():
        url = response.urljoin(href.strip())
        if url.startswith(("http://", "https://")) and on_site(url, domains):
            links.add(canonical_url(url))
    return links


def _overlap(proposal: Proposal, page_links: set[str]) -> bool:
    return any(canonical_url(c.url) in page_links for c in proposal.items)


def _unique(proposals: list[Proposal]) -> list[Proposal]:
    """One proposal per set of items: /rss and /rss.xml are often the same feed."""
    kept: dict[tuple[str, ...], Proposal] = {}
    for proposal in proposals:
        key = tuple(canonical_url(c.url) for c in proposal.items) or (proposal.url,)
        if key not in kept or proposal.rank() > kept[key].rank():
            kept[key] = proposal
    return list(kept.values())


def _try(fetcher: PoliteFetcher, url: str, found_by: str, site_wide: bool,
         language: str | None) -> tuple[Proposal | None, str]:
    try:
        fetched = fetcher.get(url)
    except FetchRefused as exc:
        return None, str(exc)
    if fetched.status != 200:
        return None, f"HTTP {fetched.status}"
    proposal = _read(fetched, found_by, site_wide, language, fetcher.crawl.max_page_bytes)
    if not isinstance(proposal, Proposal):
        return None, proposal or "neither a feed nor a sitemap"
    if proposal.kind == "sitemap" and not proposal.items:
        _follow_index(fetcher, fetched, proposal, language)
    if not proposal.items:
        return None, "no article links on the site" + (f" ({proposal.offsite} elsewhere)"
                                                       if proposal.offsite else "")
    return proposal, ""


def _sniff(fetched: Fetched) -> str | None:
    head = fetched.body[:1000].lstrip().lower()
    if b"<urlset" in head or b"<sitemapindex" in head or fetched.body[:2] == b"\x1f\x8b":
        return "sitemap"
    if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head:
        return "feed"
    return None


def _read(fetched: Fetched, found_by: str, site_wide: bool, language: str | None,
          max_bytes: int) -> Proposal | str | None:
    """The response read by the crawl's own reader for its kind; None when it is neither kind,
    and the reader's words when it is one but cannot be read (a broken feed, a gzip bomb).

    `max_bytes` bounds a gzipped sitemap's expansion as in a crawl (crawl.max_page_bytes)."""
    kind = _sniff(fetched)
    if kind is None:
        return None
    source = SourceConfig(name="candidate", language=language, **{kind: fetched.url})
    current = DryRound(source, max_page_bytes=max_bytes)
    page = (read_feed if kind == "feed" else read_sitemap)(fetched.response(), current)
    if page.broken:
        return page.broken
    # Not vouched for by the channel link, as a crawl would: ranked by links on the site itself.
    proposal = Proposal(kind, fetched.url, found_by, site_wide=site_wide)
    proposal.news_sitemap = kind == "sitemap" and b"sitemap-news" in fetched.body[:3000]
    _keep(proposal, page.candidates, current)
    proposal.children = [url for url, _ in page.more]
    return proposal


def _keep(proposal: Proposal, candidates: list[Candidate], current: DryRound) -> None:
    oldest = datetime.min.replace(tzinfo=UTC)
    on = [c for c in candidates if c.url.startswith(("http://", "https://"))
          and on_site(c.url, current.domains())]
    proposal.offsite += len(candidates) - len(on)
    proposal.items = sorted(on, key=lambda c: c.published or oldest, reverse=True)


def _follow_index(fetcher: PoliteFetcher, fetched: Fetched, proposal: Proposal,
                  language: str | None) -> None:
    """A sitemap index: its newest child (as the crawl picks them) says what the index holds."""
    for child_url in proposal.children[:1]:
        try:
            child = fetcher.get(child_url)
        except FetchRefused:
            continue
        if child.status != 200:
            continue
        read = _read(child, proposal.found_by, proposal.site_wide, language, fetcher.crawl.max_page_bytes)
        if isinstance(read, Proposal):
            proposal.items, proposal.offsite = read.items, read.offsite
            proposal.news_sitemap = read.news_sitemap


def _listing(response: TextResponse, domains: list[str], language: str | None) -> Proposal | None:
    proposed = propose_links(response, domains)
    if proposed is None:
        return None
    source = SourceConfig(name="candidate", listing=response.url, links=proposed.selector,
                          language=language)
    current = DryRound(source)
    page = read_listing(response, current)
    proposal = Proposal("listing", response.url, LISTING, links=proposed.selector)
    _keep(proposal, page.candidates, current)
    return proposal
