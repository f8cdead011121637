"""HTML section pages: article links by a CSS selector, pagination by another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from scrapy.http import TextResponse

from crawler.spiders.base import MAX_TITLE, Candidate, SourceSpider, bounded

if TYPE_CHECKING:
    from scrapy.http import Request, Response


class ListingSpider(SourceSpider):
    kind = "listing"

    def parse_index(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            self.index_broken(response.url, "not an HTML page")
            return
        links = response.css(self.source.links or "a")
        if not links:
            self.index_broken(
                response.url, f"no element matches links = {self.source.links!r}; "
                "check the selector against the page (the site may have changed its layout)")
            return
        self.index_ok(response)
        if not self.already_settled(response):
            yield from self.article_requests(self._candidates(response), response.url)
        page = response.meta.get("page", 1)
        if self.source.next and page < self.source.pages:
            href = response.css(self.source.next).attrib.get("href")
            if href:
                yield self.index_request(response.urljoin(href), page=page + 1)

    def _candidates(self, response: TextResponse) -> Iterator[Candidate]:
        for link in response.css(self.source.links or "a"):
            anchor = link if link.root.tag == "a" else link.css("a")
            href = anchor.attrib.get("href") if anchor else None
            if href:
                title = " ".join(anchor.css("::text").getall()).strip() or None
                yield Candidate(url=response.urljoin(href.strip()), title=bounded(title, MAX_TITLE))
