"""HTML section pages: article links by a CSS selector, pagination by another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from scrapy.http import TextResponse

from crawler.spiders.candidates import MAX_TITLE, Candidate, IndexPage, bounded

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.rounds import Round


def read_listing(response: Response, current: Round) -> IndexPage:
    if not isinstance(response, TextResponse):
        return IndexPage(broken="not an HTML page")
    source = current.source
    links = response.css(source.links or "a")
    if not links:
        return IndexPage(broken=f"no element matches links = {source.links!r}; check the selector "
                                "against the page (the site may have changed its layout)")
    page = IndexPage()
    settled = current.already_settled(response.url, response.body)
    if not settled:
        page.candidates = list(_candidates(response, source.links or "a"))
    number = response.meta.get("page", 1)
    if source.next and number < source.pages:
        href = response.css(source.next).attrib.get("href")
        following = response.urljoin(href) if href else None
        if following and not (settled and current.still_settled(following)):
            page.more.append((following, {"page": number + 1}))
    return page


def _candidates(response: TextResponse, selector: str) -> Iterator[Candidate]:
    for link in response.css(selector):
        anchor = link if link.root.tag == "a" else link.css("a")
        href = anchor.attrib.get("href") if anchor else None
        if href:
            title = " ".join(anchor.css("::text").getall()).strip() or None
            yield Candidate(url=response.urljoin(href.strip()), title=bounded(title, MAX_TITLE))
