"""What an index (feed, sitemap, listing) says: article links with their titles and dates, and
further index pages to read. Readers return an IndexPage; the spider turns it into requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import tldextract

# What a feed or sitemap may say about one link. Entities can blow a field up to megabytes; a
# title is a line, a summary a few paragraphs (it stands in for a body only when the page is empty).
MAX_TITLE = 1000
MAX_SUMMARY = 20_000
MAX_URL = 2000
# The bundled public-suffix snapshot: no network fetch at start-up.
_extract = tldextract.TLDExtract(suffix_list_urls=())


def bounded(value: str | None, limit: int) -> str | None:
    """The field cut to `limit` characters: nothing a feed says grows without bound."""
    return value[:limit] if isinstance(value, str) else None


def site_name(url: str) -> str:
    """The site's own name (`www.etnews.com` -> `etnews`), or the host for IPs: a default source name."""
    parts = _extract(url)
    return (parts.domain or parts.fqdn or "source").lower()


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


@dataclass
class IndexPage:
    """One index response, read: its article links, more index pages, or why it cannot be read.

    `settled` is true when the body was read before with every link dealt with: nothing to do.
    `domains` are sites the index vouches for (a feed's channel link) besides the source's own.
    """

    candidates: list[Candidate] = field(default_factory=list)
    more: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    broken: str | None = None
    settled: bool = False
    domains: list[str] = field(default_factory=list)
