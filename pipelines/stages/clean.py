"""The clean stage: the article out of the page (title, text, date, language), or a counted drop.

The work itself runs in pipelines/workers/prepare.py, in the extraction workers; this stage waits for it
and counts what it dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.stages.resources import Count, StageResources

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.workers.pool import PagePool

logger = logging.getLogger(__name__)

class CleanPipeline:
    """Cleans each fetched page (in a worker process) and drops the pages that hold no article."""

    def __init__(self, pool: PagePool, count: Count) -> None:
        self.pool = pool
        self.count = count

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.pool, resources.count)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        reason, prepared = await self.pool.prepare(item)
        if reason is not None:
            self.count(item, f"clean/dropped/{reason}", 1)
            raise DropItem(f"not an article ({reason}): {item.url}")
        self.count(item, "clean/ok", 1)
        if prepared.canonical_refused:
            self.count(item, "clean/canonical_refused", 1)
            logger.warning("[%s] ignored rel=canonical %s of %s: another host than the one that "
                           "served the page; stored under the fetched URL", item.source,
                           prepared.canonical_refused, item.url)
        return prepared
