"""The store stage: the article, its story and its topic matches, written once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url
from pipelines.stages.resources import Count, StageResources

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.dedupe.near_duplicates import NearDuplicates
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)


class StorePipeline:
    """Writes each surviving article, and remembers its URLs so no later round refetches them."""

    def __init__(self, store: Store, near_duplicates: NearDuplicates, count: Count) -> None:
        self.store = store
        self.near_duplicates = near_duplicates
        self.count = count

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.store, resources.near_duplicates, resources.count)

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
            self.count(item, "store/duplicate", 1)
            raise DropItem(f"stored concurrently: {item.url}")
        article_id, item.story_id, similarity, joined = stored
        item.article_id = article_id
        if joined is not None:
            self.count(item, "dedupe/near_duplicate", 1)
            logger.info("[%s] %s joins the story of article #%d (similarity %.2f)",
                        item.source, item.url, joined, similarity)
        self.count(item, "store/stored", 1)
        matched = [s for s in item.scores if s.matched]  # counted by the classify stage
        logger.info("[%s] stored #%d %s%s", item.source, article_id, item.title or item.url,
                    f" (matches {', '.join(s.topic for s in matched)})" if matched else "")
        return item
