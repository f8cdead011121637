"""The clean stage: the article out of the page (title, text, date, language), or a counted drop.

The work itself runs in pipelines/workers/prepare.py, in the extraction workers; this stage waits for it
and counts what it dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.stages.classify import shared_examples
from pipelines.workers.pool import shared_pool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.items import ArticleItem
    from pipelines.workers.pool import PagePool

logger = logging.getLogger(__name__)

class CleanPipeline:
    """Cleans each fetched page (in a worker process) and drops the pages that hold no article."""

    def __init__(self, stats: StatsCollector, pool: PagePool) -> None:
        self.stats = stats
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        pool = shared_pool(settings.getint("NEWSWATCH_EXTRACT_WORKERS", 0),
                           settings.getlist("NEWSWATCH_TOPICS"),
                           shared_examples(settings["NEWSWATCH_DATABASE_URL"]))
        return cls(crawler.stats, pool)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        reason, prepared = await self.pool.prepare(item)
        if reason is not None:
            self.stats.inc_value(f"clean/dropped/{reason}")
            raise DropItem(f"not an article ({reason}): {item.url}")
        self.stats.inc_value("clean/ok")
        if prepared.canonical_refused:
            self.stats.inc_value("clean/canonical_refused")
            logger.warning("[%s] ignored rel=canonical %s of %s: another host than the one that "
                           "served the page; stored under the fetched URL", item.source,
                           prepared.canonical_refused, item.url)
        return prepared
