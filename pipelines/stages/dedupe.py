"""Drop repeats: the same URL under another spelling, and the same text under another URL."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url, fingerprint
from pipelines.dedupe.near_duplicates import NearDuplicateIndex
from pipelines.dedupe.shingles import from_bytes
from pipelines.storage.models import utcnow
from pipelines.storage.store import Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.items import ArticleItem

logger = logging.getLogger(__name__)
# How stale the near-duplicate index may be about what other processes stored (a query each time).
CATCH_UP_SECONDS = 1.0

_indexes: dict[str, NearDuplicateIndex] = {}


def shared_index(store: Store, window_days: int, threshold: float) -> NearDuplicateIndex:
    """One near-duplicate index per database in a process.

    Every source is its own crawler in a round; with an index each, two portals carrying the
    same wire story in the same round would never see each other.
    """
    if store.url not in _indexes:
        _indexes[store.url] = NearDuplicateIndex.load(store, window_days, threshold)
    return _indexes[store.url]


def remember(store: Store, item: ArticleItem) -> None:
    """Make a just-stored article a candidate for the ones that follow it.

    Called by the store stage in the same synchronous pass as this one: Scrapy's item_scraped
    signal arrives a loop turn later, after the next item may already have been checked.
    """
    index = _indexes.get(store.url)
    if index is not None and item.article_id and item.story_id and item.minhash:
        index.add(item.article_id, item.story_id, from_bytes(item.minhash), utcnow())


class DedupePipeline:
    """Drops an article whose canonical URL or exact text is stored; joins near-copies to their story."""

    def __init__(self, store: Store, stats: StatsCollector, index: NearDuplicateIndex,
                 window_days: int = 30) -> None:
        self.store = store
        self.stats = stats
        self.index = index
        self.window_days = window_days

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        store = Store.open(settings["NEWSWATCH_DATABASE_URL"])
        window_days = settings.getint("NEWSWATCH_DEDUPE_WINDOW_DAYS", 30)
        index = shared_index(store, window_days,
                             settings.getfloat("NEWSWATCH_NEAR_DUPLICATE_THRESHOLD"))
        return cls(store, crawler.stats, index, window_days)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        item.canonical_url = item.canonical_url or canonical_url(item.url)
        aliases = {item.canonical_url, canonical_url(item.url)}
        source_id = self.store.source_id(item.source)
        if self.store.known_urls([item.canonical_url]):
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_url")
            self.stats.inc_value("dedupe/duplicate_url")
            raise DropItem(f"duplicate URL: {item.canonical_url} is stored already")
        item.fingerprint = fingerprint(item.text)
        existing = self.store.article_by_fingerprint(item.fingerprint)
        if existing is not None:
            self.store.record_pages(aliases, url=item.url, source_id=source_id,
                                    outcome="duplicate_text", article_id=existing,
                                    title=item.title)
            self.stats.inc_value("dedupe/duplicate_text")
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
            self.stats.inc_value("dedupe/near_duplicate")
            logger.info("[%s] %s joins the story of article #%d (similarity %.2f)",
                        item.source, item.url, article_id, similarity)
        return item
