"""The pool of extraction worker processes that run pipelines/workers/prepare.py for every source of a round.

The crawl process never imports prepare.py's extraction, scoring and MinHash libraries (about
100 MB) unless it has to do the work itself (`crawl.extract_workers = 0`, or a worker died): the
workers are forked from a forkserver that imports them once, and share those pages.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import sys
import threading
import time
import types
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.items import ArticleItem
    from pipelines.scoring.scorer import Example

_WORK = "pipelines.workers.prepare"


def _setup(topic_configs: list[dict[str, Any]], examples: Mapping[str, Sequence[Example]],
           crawl_pid: int | None = None) -> None:
    if crawl_pid is not None:
        _die_with(crawl_pid)
    from pipelines.workers.prepare import setup

    setup(topic_configs, examples)


def _die_with(pid: int) -> None:
    """End this worker as soon as the crawl process ends, however it ends (kill -9 included).

    A worker is forked by the forkserver, not by the crawl, and holds both ends of the pool's
    pipes itself: it never sees an end of file, and the forkserver lives as long as its workers.
    Left alone they outlived a killed crawl by many minutes, with 280 MB between them.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look once a second instead
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _alive(pid):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="die-with-crawl", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _lean_main() -> Iterator[None]:
    """Workers started in this block import none of the crawl's main module.

    multiprocessing has each new process import the parent's `__main__` (as `__mp_main__`), so
    that functions pickled from it can be found: here the CLI (SQLAlchemy, click) or the crawl
    service (Scrapy, Twisted as well), up to 50 MB and 0.4 s of CPU a worker for nothing, as
    workers run only this module's functions. A new process is told to import none when
    `__main__` is a bare module while it is started (only `submit`, in this thread, starts them).
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _prepare(item: ArticleItem) -> tuple[str | None, ArticleItem]:
    # Referenced by name in the crawl process, imported only where it runs.
    from pipelines.workers.prepare import prepare

    return prepare(item)


class PagePool:
    """Worker processes shared by every source of a round, fed at most two pages per worker.

    The bound keeps waiting pages in Scrapy's scraper slot, which counts them against its memory
    limit, instead of in the executor's queue, which does not.
    """

    def __init__(self, workers: int, topic_configs: list[dict[str, Any]],
                 examples: Mapping[str, Sequence[Example]]) -> None:
        self.workers = workers
        self.initargs = (topic_configs, examples)
        self.crawl_pid = os.getpid()
        self._executor: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._local = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([_WORK])
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context,
                                                 initializer=_setup,
                                                 initargs=(*self.initargs, self.crawl_pid))
        return self._executor

    def _here(self, item: ArticleItem) -> tuple[str | None, ArticleItem]:
        """The work in this process: without workers, or for the page a dead worker left."""
        if not self._local:
            _setup(*self.initargs)
            self._local = True
        return _prepare(item)

    def refresh(self, examples: Mapping[str, Sequence[Example]]) -> None:
        """New readers' examples: the next page goes to fresh workers that know them."""
        self.initargs = (self.initargs[0], examples)
        self._local = False
        self.close()

    def close(self) -> None:
        """Stop the workers; pages still waiting fail, and the next one starts a new pool."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def prepare(self, item: ArticleItem) -> tuple[str | None, ArticleItem]:
        if self.workers <= 0:
            return self._here(item)
        if self._slots is None:
            self._slots = asyncio.Semaphore(2 * self.workers)
        async with self._slots:
            try:
                with _lean_main():
                    done = self._pool().submit(_prepare, item)
                return await asyncio.wrap_future(done)
            except BrokenProcessPool:
                # A worker died (out of memory on a monstrous page?): start afresh, this page here.
                self._executor = None
                return self._here(item)
