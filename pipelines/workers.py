"""The CPU-bound work on a page, in worker processes: extraction, topic scores, MinHash signature.

In the crawl's own process this work would stall the reactor, and every download with it. Each
stage still owns its decision (clean drops, dedupe looks the signature up in the shared index,
classify counts the matches); it only finds the numbers already made.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from pipelines.classify import Example, score_all
from pipelines.classify_stage import shared_topics
from pipelines.clean import clean_item
from pipelines.near_duplicates import signature, to_bytes

if TYPE_CHECKING:
    from crawler.items import ArticleItem

_topic_configs: list[dict[str, Any]] = []
_examples: Mapping[str, Sequence[Example]] = {}


def _setup(topic_configs: list[dict[str, Any]], examples: Mapping[str, Sequence[Example]]) -> None:
    """Pool initializer: the round's topics and readers' examples, once per worker."""
    global _topic_configs, _examples
    _topic_configs, _examples = topic_configs, examples


def prepare(item: ArticleItem) -> tuple[str | None, ArticleItem]:
    """Clean the page; for an article, score it and sign its text. Returns (drop reason, item)."""
    reason = clean_item(item)
    if reason is None:
        item.minhash = to_bytes(signature(item.text))
        item.scores = score_all(item.title, item.text, item.language,
                                shared_topics(_topic_configs), _examples)
    return reason, item


class PagePool:
    """Worker processes shared by every source of a round, fed at most two pages per worker.

    The bound keeps waiting pages in Scrapy's scraper slot, which counts them against its memory
    limit, instead of in the executor's queue, which does not.
    """

    def __init__(self, workers: int, topic_configs: list[dict[str, Any]],
                 examples: Mapping[str, Sequence[Example]]) -> None:
        self.workers = workers
        self.initargs = (topic_configs, examples)
        self._executor: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        _setup(*self.initargs)  # for pages prepared in this process

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pipelines.workers"])
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context,
                                                 initializer=_setup, initargs=self.initargs)
            atexit.register(self._executor.shutdown, cancel_futures=True)
        return self._executor

    async def prepare(self, item: ArticleItem) -> tuple[str | None, ArticleItem]:
        if self.workers <= 0:
            return prepare(item)
        if self._slots is None:
            self._slots = asyncio.Semaphore(2 * self.workers)
        async with self._slots:
            try:
                return await asyncio.wrap_future(self._pool().submit(prepare, item))
            except BrokenProcessPool:
                # A worker died (out of memory on a monstrous page?): start afresh, this page here.
                self._executor = None
                return prepare(item)


_pools: dict[str, PagePool] = {}


def shared_pool(workers: int, topic_configs: list[dict[str, Any]],
                examples: Mapping[str, Sequence[Example]]) -> PagePool:
    """One pool per process and topic set: all sources of a round share the cores."""
    key = f"{workers}:{topic_configs!r}"
    if key not in _pools:
        _pools[key] = PagePool(workers, topic_configs, examples)
    return _pools[key]
