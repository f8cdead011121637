"""Scrapy's robots.txt middleware, for a service that stays up: a site's rules are read again daily.

Scrapy keeps each site's parsed robots.txt for the life of its engine. A crawl service lives for
weeks, so a site that later disallows newswatch would never be heard, and one whose robots.txt
failed to download once (read as "allow all") would never be asked again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy.http import Request
    from scrapy.robotstxt import RobotParser

# How long a site's rules are kept; a robots.txt that could not be fetched is asked for again sooner.
KEEP_SECONDS = 24 * 3600.0
KEEP_FAILED_SECONDS = 3600.0


class ExpiringRobotsTxt(RobotsTxtMiddleware):
    """Forgets a site's robots.txt after KEEP_SECONDS (KEEP_FAILED_SECONDS when it failed)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._read_at: dict[str, float] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        parser = self._parsers.get(netloc, "absent")
        if parser != "absent" and not isinstance(parser, Deferred):
            keep = KEEP_FAILED_SECONDS if parser is None else KEEP_SECONDS
            if time.monotonic() - self._read_at.get(netloc, 0.0) > keep:
                del self._parsers[netloc]
        if netloc not in self._parsers:
            self._read_at[netloc] = time.monotonic()
        return await super().robot_parser(request)
