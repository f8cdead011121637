"""Drop repeats: the same URL under another spelling, and the same text under another URL."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url, fingerprint
from pipelines.dedupe.shingles import from_bytes
from pipelines.stages.resources import Count, StageResources

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.dedupe.near_duplicates import NearDuplicateIndex
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)
# How stale the near-duplicate index may be about what other processes stored (a query each time).
CATCH_UP_SECONDS = 1.0


class DedupePipeline:
    """Drops an article whose canonical URL or exact text is stored; joins near-copies to their story."""

    def __init__(self, store: Store, index: NearDuplicateIndex, count: Count,
                 window_days: int = 30) -> None:
        self.store = store
        self.index = index
        self.count = count
        self.window_days = window_days

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.store, resources.index, resources.count, resources.window_days)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        item.canonical_url = item.canonical_url or canonical_url(item.url)
        aliases = {item.canonical_url, canonical_url(item.url)}
        source_id = self.store.source_id(item.source)
        if self.store.known_urls([item.canonical_url]):
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_url")
            self.count(item.source, "dedupe/duplicate_url", 1)
            raise DropItem(f"duplicate URL: {item.canonical_url} is stored already")
        item.fingerprint = fingerprint(item.text)
        existing = self.store.article_by_fingerprint(item.fingerprint)
        if existing is not None:
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_text", article_id=existing,
                                    title=item.title)
            self.count(item.source, "dedupe/duplicate_text", 1)
            raise DropItem(f"duplicate text: {item.url} repeats article #{existing}")
        if not item.minhash:  # normally signed already, in the worker that cleaned the page
            from pipelines.dedupe.minhash import signature
            from pipelines.dedupe.shingles import to_bytes

            item.minhash = to_bytes(signature(item.text))
        if time.monotonic() - self.index.caught_up_at >= CATCH_UP_SECONDS:
            self.index.catch_up(self.store, self.window_days)
        found = self.index.find(from_bytes(item.minhash), item.text)
        if found is not None:
            article_id, item.story_id, similarity = found
            self.count(item.source, "dedupe/near_duplicate", 1)
            logger.info("[%s] %s joins the story of article #%d (similarity %.2f)",
                        item.source, item.url, article_id, similarity)
        return item
