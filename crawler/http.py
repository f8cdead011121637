"""Scrapy's HTTP/1.1 download handler, with idle connections closed after a few seconds.

Twisted keeps an idle keep-alive connection to every host for 240 s. A service polling a thousand
sites then holds a descriptor per site for minutes (1,901 at the first crawl of 1,000 feeds, past
a 1,024 open-file limit); a round's requests to a site follow each other within seconds, and the
next poll comes minutes later, so a short idle time keeps the reuse and drops the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

IDLE_SECONDS = 10


class ShortKeepAliveHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool.cachedConnectionTimeout = IDLE_SECONDS
