"""Sitemaps, sitemap indexes and Google News sitemaps (`news:title`, `news:publication_date`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lxml import etree
from scrapy.utils.gz import gunzip

from crawler.spiders.base import Candidate, SourceSpider
from pipelines.dates import SEOUL, parse_date

if TYPE_CHECKING:
    from scrapy.http import Request, Response

# Archive sitemaps of an index are many and old; only recent ones can hold news.
RECENT = timedelta(days=3)
MAX_CHILD_SITEMAPS = 5
_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element: etree._Element, *path: str) -> str | None:
    """Text of a descendant by local names, whatever prefix the site bound its namespace to."""
    nodes = [element]
    for name in path:
        nodes = [c for n in nodes for c in n if _local(c.tag) == name]
    text = nodes[0].text if nodes else None
    return text.strip() if text and text.strip() else None


class SitemapSpider(SourceSpider):
    kind = "sitemap"

    def parse_index(self, response: Response) -> Iterator[Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        root = etree.fromstring(body, parser=_PARSER) if body.strip() else None
        kind = _local(root.tag) if root is not None else ""
        if kind not in ("urlset", "sitemapindex"):
            head = body[:2000].lower()
            reason = ("the server sent an HTML page" if b"<html" in head
                      else "no <urlset> or <sitemapindex>")
            self.index_broken(response.url, f"not a sitemap: {reason}")
            return
        self.index_ok(response)
        if kind == "sitemapindex":
            yield from self._children(root)
        elif not self.already_settled(response):
            yield from self.article_requests(self._candidates(root), response.url)

    def _children(self, root: etree._Element) -> Iterator[Request]:
        children = []
        for sitemap in root:
            loc = _child_text(sitemap, "loc")
            if loc:
                children.append((parse_date(_child_text(sitemap, "lastmod")), loc))
        cutoff = datetime.now(UTC) - RECENT
        recent = [c for c in children if c[0] is None or c[0] >= cutoff] or children
        oldest = datetime.min.replace(tzinfo=UTC)
        recent.sort(key=lambda c: c[0] or oldest, reverse=True)
        for _, loc in recent[:MAX_CHILD_SITEMAPS]:
            yield self.index_request(loc)

    def _candidates(self, root: etree._Element) -> Iterator[Candidate]:
        default_tz = SEOUL if self.source.language == "ko" else None
        for url in root:
            loc = _child_text(url, "loc")
            if not loc:
                continue
            date = _child_text(url, "news", "publication_date") or _child_text(url, "lastmod")
            yield Candidate(url=loc, title=_child_text(url, "news", "title"),
                            published=parse_date(date, default_tz))
