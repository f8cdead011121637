"""Drop repeats: the same URL under another spelling, and the same text under another URL."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url, fingerprint
from pipelines.stages.resources import Count, StageResources

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)


class DedupePipeline:
    """Drops an article whose canonical URL or exact text is stored, and makes sure it is signed.

    Whether a near-copy joins a stored story is decided where it is stored (`Store.add_article`),
    inside the storing transaction: decided here, two copies passing at once would both miss.
    """

    def __init__(self, store: Store, count: Count) -> None:
        self.store = store
        self.count = count

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.store, resources.count)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        item.canonical_url = item.canonical_url or canonical_url(item.url)
        aliases = {item.canonical_url, canonical_url(item.url)}
        source_id = self.store.source_id(item.source)
        item.fingerprint = item.fingerprint or fingerprint(item.text)  # normally made in the worker
        known, existing = self.store.stored_as(item.canonical_url, item.fingerprint)
        if known:
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_url")
            self.count(item, "dedupe/duplicate_url", 1)
            raise DropItem(f"duplicate URL: {item.canonical_url} is stored already")
        if existing is not None:
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_text", article_id=existing,
                                    title=item.title)
            self.count(item, "dedupe/duplicate_text", 1)
            raise DropItem(f"duplicate text: {item.url} repeats article #{existing}")
        if not item.minhash:  # normally signed already, in the worker that cleaned the page
            from pipelines.dedupe.minhash import signature
            from pipelines.dedupe.shingles import to_bytes

            item.minhash = to_bytes(signature(item.text))
        return item
