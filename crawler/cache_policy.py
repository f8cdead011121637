"""HTTP cache policy for news indexes: always revalidate, and now and then refetch unconditionally."""

from __future__ import annotations

from time import time
from typing import TYPE_CHECKING

from scrapy.extensions.httpcache import RFC2616Policy

if TYPE_CHECKING:
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings


class RevalidatingPolicy(RFC2616Policy):
    """RFC 2616 caching, tuned for feeds that change every few minutes.

    - Browsers' heuristic freshness (a tenth of the Last-Modified age) would let a feed last
      changed ten days ago be served from cache for a day, hiding new items; only an explicit
      max-age counts here, capped at NEWSWATCH_MAX_FRESH_SECONDS.
    - Some servers keep the same ETag while the feed changes. After NEWSWATCH_REVALIDATE_SECONDS
      since the last full download, the request goes out without validators, so a stuck ETag can
      hide new items for a day at most.
    - A 5xx is reported as the failure it is, not papered over with the cached copy: source
      health must see it.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.revalidate_seconds = settings.getfloat("NEWSWATCH_REVALIDATE_SECONDS", 86400)
        self.max_fresh_seconds = settings.getfloat("NEWSWATCH_MAX_FRESH_SECONDS", 300)

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        stored_at = request.meta.get("cache_timestamp")
        if stored_at is not None and time() - stored_at > self.revalidate_seconds:
            request.meta["unconditional"] = True
            return False
        return super().is_cached_response_fresh(cachedresponse, request)

    def _compute_freshness_lifetime(
        self, response: Response, request: Request, now: float
    ) -> float:
        max_age = self._get_max_age(self._parse_cachecontrol(response))
        return min(max_age or 0, self.max_fresh_seconds)

    def is_cached_response_valid(
        self, cachedresponse: Response, response: Response, request: Request
    ) -> bool:
        return response.status == 304
