"""The store stage: the article, its story and its topic matches, written once."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.dedupe.identity import canonical_url
from pipelines.stages.resources import Count, StageResources
from pipelines.storage.store import NewArticle, StoredArticle

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.dedupe.near_duplicates import NearDuplicates
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)
# Articles that reach the stage within BATCH_WAIT seconds of the first waiting one are written in
# one transaction, at most BATCH_SIZE of them: a commit and a write lock cost as much as the rows
# of a whole article (benchmarks/README.md). The wait is short beside a round; an article only
# counts as fetched (pages) once written, so one lost with a killed process is fetched again.
BATCH_SIZE = 32
BATCH_WAIT = 0.1


class StorePipeline:
    """Writes each surviving article, and remembers its URLs so no later round refetches them."""

    def __init__(self, store: Store, near_duplicates: NearDuplicates, count: Count, *,
                 batch_size: int = BATCH_SIZE, batch_wait: float = BATCH_WAIT) -> None:
        self.store = store
        self.near_duplicates = near_duplicates
        self.count = count
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._waiting: list[tuple[NewArticle, asyncio.Future[StoredArticle | None]]] = []
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.store, resources.near_duplicates, resources.count)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        stored = await self._stored(NewArticle(
            {
                "source_id": self.store.source_id(item.source),
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
        ))
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

    def _stored(self, article: NewArticle) -> asyncio.Future[StoredArticle | None]:
        """What storing the article gave, once the batch it waits in is written."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredArticle | None] = loop.create_future()
        self._waiting.append((article, future))
        if len(self._waiting) >= self.batch_size:
            self.write()
        elif self._timer is None:
            self._timer = loop.call_later(self.batch_wait, self.write)
        return future

    def write(self) -> None:
        """Write the waiting articles in one transaction; each waiter gets its own outcome, or
        the error that failed them all (logged by Scrapy against each item, as before)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if not batch:
            return
        try:
            results = self.store.add_articles([article for article, _ in batch],
                                              near_duplicates=self.near_duplicates)
        except Exception as exc:  # the database is away, locked past its timeout, full...
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a waiter cancelled with its round
                future.set_result(result)

    def close_spider(self) -> None:
        """Nothing waits past the engine: Scrapy drains the items first, so this is a safeguard."""
        self.write()
