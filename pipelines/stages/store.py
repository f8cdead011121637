"""The store stage: the article, its story and its topic matches, written once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url
from pipelines.dedupe.near_duplicates import NearDuplicates
from pipelines.storage.store import Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.items import ArticleItem

logger = logging.getLogger(__name__)


class StorePipeline:
    """Writes each surviving article, and remembers its URLs so no later round refetches them."""

    def __init__(self, store: Store, stats: StatsCollector,
                 near_duplicates: NearDuplicates | None = None) -> None:
        self.store = store
        self.stats = stats
        self.near_duplicates = near_duplicates or NearDuplicates()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        near_duplicates = NearDuplicates(settings.getfloat("NEWSWATCH_NEAR_DUPLICATE_THRESHOLD"),
                                         settings.getint("NEWSWATCH_DEDUPE_WINDOW_DAYS", 30))
        return cls(Store.open(settings["NEWSWATCH_DATABASE_URL"]), crawler.stats, near_duplicates)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        source_id = self.store.source_id(item.source)
        stored = self.store.add_article(
            {
                "source_id": source_id,
                "url": item.url,
                "canonical_url": item.canonical_url,
                "title": item.title,
                "text": item.text,
                "language": item.language,
                "author": item.author,
                "published": item.published,
                "fingerprint": item.fingerprint,
                "minhash": item.minhash,
            },
            story_id=item.story_id,
            scores=item.scores,
            aliases=[canonical_url(item.url)],
            near_duplicates=self.near_duplicates,
        )
        if stored is None:
            self.stats.inc_value("store/duplicate")
            raise DropItem(f"stored concurrently: {item.url}")
        article_id, item.story_id, similarity, joined = stored
        item.article_id = article_id
        if joined is not None:
            self.stats.inc_value("dedupe/near_duplicate")
            logger.info("[%s] %s joins the story of article #%d (similarity %.2f)",
                        item.source, item.url, joined, similarity)
        self.stats.inc_value("store/stored")
        matched = [s for s in item.scores if s.matched]  # counted by the classify stage
        logger.info("[%s] stored #%d %s%s", item.source, article_id, item.title or item.url,
                    f" (matches {', '.join(s.topic for s in matched)})" if matched else "")
        return item
