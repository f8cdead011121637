"""A `links` selector for a listing page with no feed: the CSS selector of its repeated article links.

A section page repeats one block per article (``<li class="item"><h3><a>headline</a></h3>``);
menus repeat too, but their link texts are a word or two, and a "most read" box is shorter
than the list and mixes kinds of pages. So each class-bearing element around a link (the link's own
class, or its nearest ancestors' up to three levels) is a candidate selector, scored by how many
headline-like links on the site it selects, how alike their addresses are, and how much text
(summaries, dates) stands beside them. The best one is proposed; the user sees the links it follows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipelines.dedupe.identity import canonical_url, on_site

if TYPE_CHECKING:
    from parsel import Selector
    from scrapy.http import TextResponse

# A headline has at least this many characters (a menu item rarely has); Hangul counts double.
HEADLINE_CELLS = 16
MIN_LINKS = 3
_ANCESTORS = 3
_CLASS = re.compile(r"^[A-Za-z_][\w-]*$")
_DIGITS = re.compile(r"\d+")


@dataclass
class LinkSelector:
    """A proposed `links` selector and why: the links it selects and their score."""

    selector: str
    links: list[str]
    score: float


def _cells(text: str) -> int:
    return sum(2 if "\uac00" <= c <= "\ud7a3" else 1 for c in text)


def _shape(url: str) -> str:
    """An address with its numbers taken out: the articles of one list share a shape."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    head = path.rsplit("/", 1)[0] if "/" in path else path
    query_keys = ",".join(sorted(p.split("=", 1)[0] for p in parts.query.split("&") if p))
    return _DIGITS.sub("#", f"{head}/?{query_keys}")


def _classes(node: Selector) -> list[str]:
    return [c for c in (node.attrib.get("class") or "").split() if _CLASS.match(c)]


def _candidate_selectors(anchor: Selector) -> list[str]:
    found = [f"a.{c}" for c in _classes(anchor)]
    node = anchor
    for _ in range(_ANCESTORS):
        parents = node.xpath("..")
        if not parents or not isinstance(parents[0].root.tag, str):
            break
        node = parents[0]
        found += [f"{node.root.tag}.{c} a" for c in _classes(node)]
        if node.attrib.get("id") and _CLASS.match(node.attrib["id"]):
            found.append(f"{node.root.tag}#{node.attrib['id']} a")
    return found


def propose_links(response: TextResponse, domains: list[str]) -> LinkSelector | None:
    """The best `links` selector for the page, or None when nothing repeats like a list of articles."""
    page = canonical_url(response.url)
    distance: dict[str, int] = {}  # how far from the link the class is: on equal scores, nearer wins
    for anchor in response.css("a[href]"):
        if _cells(" ".join(anchor.css("::text").getall()).strip()) >= HEADLINE_CELLS:
            for rank, selector in enumerate(_candidate_selectors(anchor)):
                distance[selector] = min(rank, distance.get(selector, rank))
    best: tuple[float, int, str] | None = None
    found: dict[str, LinkSelector] = {}
    for selector in sorted(distance):
        scored = _score(response, selector, domains, page)
        if scored is None:
            continue
        found[selector] = scored
        key = (round(scored.score, 6), -distance[selector], selector)
        if best is None or key[:2] > best[:2]:
            best = key
    return found[best[2]] if best else None


def _score(response: TextResponse, selector: str, domains: list[str], page: str) -> LinkSelector | None:
    links: dict[str, None] = {}
    headlines = 0
    beside = 0
    containers: set[str] = set()
    for anchor in response.css(selector):
        href = (anchor.attrib.get("href") or "").strip()
        url = response.urljoin(href) if href else ""
        if not url.startswith(("http://", "https://")) or not on_site(url, domains):
            continue
        if canonical_url(url) == page or canonical_url(url) in links:
            continue
        links[canonical_url(url)] = None
        text = " ".join(anchor.css("::text").getall()).strip()
        headlines += _cells(text) >= HEADLINE_CELLS
        chars, container = _block(anchor, text)
        beside += chars
        containers.add(container)
    if headlines < MIN_LINKS:
        return None
    shapes = Counter(_shape(url) for url in links)
    purity = shapes.most_common(1)[0][1] / len(links)
    share = headlines / len(links)
    context = min(beside / len(links) / 80, 2.0)
    # One list is one container; a class shared by several boxes (rankings, opinion, regions)
    # spreads over as many, and is less likely the list the page is about.
    return LinkSelector(selector, list(links),
                        headlines * purity * share * (1 + context) / max(len(containers), 1))


def _block(anchor: Selector, own: str) -> tuple[int, str]:
    """(characters of text in the link's block besides its own: a summary, a date, a byline;
    an identity of the element holding the block), the block being its nearest item or row."""
    block = anchor.xpath("ancestor::*[self::li or self::article or self::div or self::tr][1]")
    node = block[0].root if block else anchor.root
    holder = node.getparent() if node.getparent() is not None else node
    where = node.getroottree().getpath(holder)
    if not block:
        return 0, where
    text = " ".join(block[0].css("::text").getall())
    return max(len(" ".join(text.split())) - len(own), 0), where
