"""Log lines for dropped items: the reason in one line, not the whole item with its page."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Response


class NewsLogFormatter(LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Response | None,
                spider: Spider | None = None) -> dict[str, Any]:
        return {"level": logging.INFO, "msg": "[%(source)s] dropped: %(reason)s",
                "args": {"source": getattr(item, "source", "?"), "reason": exception}}
