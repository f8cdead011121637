"""RSS 0.9x/1.0/2.0 and Atom feeds: fetched by Scrapy, read by feedparser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import feedparser

from crawler.spiders.base import (
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    Candidate,
    SourceSpider,
    bounded,
    site_domain,
)
from pipelines.extraction.dates import SEOUL, parse_date

if TYPE_CHECKING:
    from scrapy.http import Request, Response


class FeedSpider(SourceSpider):
    kind = "feed"

    def parse_index(self, response: Response) -> Iterator[Request]:
        if self.already_settled(response):
            self.index_ok(response)
            return
        parsed = feedparser.parse(
            response.body,
            response_headers={"content-type": response.headers.get(b"Content-Type", b"").decode(
                "latin-1")},
        )
        if not parsed.entries and (parsed.bozo or not parsed.version):
            self.index_broken(response.url, _why_not_a_feed(response.body, parsed))
            return
        self.index_ok(response)
        language = self.source.language or (parsed.feed.get("language") or "")[:2].lower()
        default_tz = SEOUL if language == "ko" else None
        # Feeds often live on another host (rss.example.com, FeedBurner) than their articles;
        # the channel's own link names the site whose articles this feed may point to.
        channel = parsed.feed.get("link")
        if channel and channel.startswith(("http://", "https://")):
            domain = site_domain(channel)
            if domain and domain not in self.allowed_domains:
                self.allowed_domains.append(domain)
        yield from self.article_requests((_candidate(e, default_tz) for e in parsed.entries), response.url)


def _candidate(entry: Any, default_tz: Any) -> Candidate:
    # The raw date string, not feedparser's *_parsed: that one reads a zone-less Korean
    # timestamp as UTC, nine hours off.
    raw = entry.get("published") or entry.get("updated") or entry.get("dc_date")
    return Candidate(
        url=(entry.get("link") or "").strip()[:MAX_URL],
        title=bounded(entry.get("title"), MAX_TITLE),
        summary=bounded(entry.get("summary"), MAX_SUMMARY),
        published=parse_date(raw, default_tz),
    )


def _why_not_a_feed(body: bytes, parsed: Any) -> str:
    head = body[:2000].lower()
    if b"<html" in head or b"<!doctype html" in head:
        return "not a feed: the server sent an HTML page"
    if not body.strip():
        return "not a feed: empty response"
    return f"broken feed: {parsed.get('bozo_exception') or 'no entries'}"
