"""Sitemaps, sitemap indexes and Google News sitemaps (`news:title`, `news:publication_date`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree
from scrapy.utils.gz import gunzip

from crawler.spiders.candidates import MAX_TITLE, Candidate, IndexPage, bounded
from pipelines.dedupe.identity import on_site
from pipelines.extraction.dates import SEOUL, parse_date

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.rounds import Round

logger = logging.getLogger(__name__)
# Archive sitemaps of an index are many and old; only recent ones can hold news.
RECENT = timedelta(days=3)
MAX_CHILD_SITEMAPS = 5
# Sitemap indexes may list indexes; real sites nest one or two deep, a hostile one forever.
MAX_INDEX_DEPTH = 3
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


def read_sitemap(response: Response, current: Round) -> IndexPage:
    body = response.body
    if body[:2] == b"\x1f\x8b":
        limit = current.limits.max_page_bytes
        try:
            body = gunzip(body, max_size=limit)
        except ValueError as exc:  # over the size limit, or not gzip after all
            too_big = "exceeded" in str(exc) or "max" in str(exc).lower()
            return IndexPage(broken=(
                f"compressed sitemap expands past crawl.max_page_bytes ({limit} bytes); raise it if "
                "this sitemap is genuine") if too_big else f"broken gzip data ({exc})")
    root = etree.fromstring(body, parser=_PARSER) if body.strip() else None
    kind = _local(root.tag) if root is not None else ""
    if kind not in ("urlset", "sitemapindex"):
        head = body[:2000].lower()
        reason = "the server sent an HTML page" if b"<html" in head else "no <urlset> or <sitemapindex>"
        return IndexPage(broken=f"not a sitemap: {reason}")
    if kind == "sitemapindex":
        return IndexPage(more=list(_children(root, response.meta.get("sitemap_depth", 0) + 1, current)))
    if current.already_settled(response.url, response.body):
        return IndexPage(settled=True)
    return IndexPage(candidates=list(_candidates(root, current)))


def _children(root: etree._Element, depth: int, current: Round) -> Iterator[tuple[str, dict[str, Any]]]:
    """The index's most recent child sitemaps on the source's sites; nested at most 3 deep."""
    if depth > MAX_INDEX_DEPTH:
        current.inc_value("newswatch/skipped/sitemap_too_deep")
        logger.warning("[%s] a sitemap index nested %d deep, not followed further (at most %d)",
                       current.name, depth, MAX_INDEX_DEPTH)
        return
    children = []
    domains = current.domains()
    for sitemap in root:
        loc = _child_text(sitemap, "loc")
        if loc and not on_site(loc, domains):
            current.inc_value("newswatch/skipped/offsite")
        elif loc:
            children.append((parse_date(_child_text(sitemap, "lastmod")), loc))
    cutoff = datetime.now(UTC) - RECENT
    recent = [c for c in children if c[0] is None or c[0] >= cutoff] or children
    oldest = datetime.min.replace(tzinfo=UTC)
    recent.sort(key=lambda c: c[0] or oldest, reverse=True)
    for _, loc in recent[:MAX_CHILD_SITEMAPS]:
        yield loc, {"sitemap_depth": depth}


def _candidates(root: etree._Element, current: Round) -> Iterator[Candidate]:
    default_tz = SEOUL if current.source.language == "ko" else None
    for url in root:
        loc = _child_text(url, "loc")
        if not loc:
            continue
        date = _child_text(url, "news", "publication_date") or _child_text(url, "lastmod")
        yield Candidate(url=loc, title=bounded(_child_text(url, "news", "title"), MAX_TITLE),
                        published=parse_date(date, default_tz))
