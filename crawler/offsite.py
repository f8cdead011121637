"""Scrapy's offsite filter, which also says so when what it drops is a redirect off the site."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Request


class OffsiteRedirects(OffsiteMiddleware):
    """Drops requests off the source's sites as Scrapy does, and tells the spider of redirects.

    A request dropped when it is scheduled reaches no errback: a feed that moved to another site
    used to end its round with no error at all.
    """

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            super().process_request(request)
        except IgnoreRequest:
            notify = getattr(self.crawler.spider, "redirected_offsite", None)
            if request.meta.get("redirect_urls") and notify is not None:
                notify(request)
            raise
