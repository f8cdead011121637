"""RSS 0.9x/1.0/2.0 and Atom feeds: fetched by Scrapy, read by feedparser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import feedparser

from crawler.spiders.candidates import (
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    Candidate,
    IndexPage,
    bounded,
    site_domain,
)
from pipelines.extraction.dates import SEOUL, parse_date

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.rounds import Round


def read_feed(response: Response, current: Round) -> IndexPage:
    if current.already_settled(response.url, response.body):
        return IndexPage(settled=True)
    parsed = feedparser.parse(
        response.body,
        response_headers={"content-type": response.headers.get(b"Content-Type", b"").decode(
            "latin-1")},
    )
    if not parsed.entries and (parsed.bozo or not parsed.version):
        return IndexPage(broken=_why_not_a_feed(response.body, parsed))
    language = current.source.language or (parsed.feed.get("language") or "")[:2].lower()
    default_tz = SEOUL if language == "ko" else None
    # Feeds often live on another host (rss.example.com, FeedBurner) than their articles; the
    # channel's own link names the site whose articles this feed may point to.
    channel = parsed.feed.get("link")
    domains = [site_domain(channel)] if channel and channel.startswith(("http://", "https://")) else []
    return IndexPage(candidates=[_candidate(e, default_tz) for e in parsed.entries],
                     domains=[d for d in domains if d])


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
