"""Live per-source progress for a crawl round in a terminal (plain log lines everywhere else)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class CrawlProgress:
    """One line per source: pages fetched, articles stored, failures, and how it ended."""

    def __init__(self, console: Console | None = None) -> None:
        # Log lines reach the screen through this console too (see crawler/logs.py), above the
        # live lines instead of through them.
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description:<32}"),
            TextColumn("{task.fields[pages]:>4} pages  {task.fields[stored]:>3} new  "
                       "{task.fields[failed]:>2} failed  {task.fields[state]}"),
            TimeElapsedColumn(), console=console or Console(stderr=True), transient=False,
        )
        self.tasks: dict[int, Any] = {}

    def watch(self, name: str, crawler: Crawler) -> None:
        task = self.progress.add_task(name, total=None, pages=0, stored=0, failed=0,
                                      state="starting")
        stats = crawler.signals

        def update(**fields: Any) -> None:
            values = crawler.stats.get_stats() if crawler.stats else {}
            self.progress.update(
                task, pages=values.get("response_received_count", 0),
                stored=values.get("store/stored", 0),
                failed=values.get("newswatch/index_failed", 0)
                + values.get("newswatch/article_failed", 0), **fields)

        stats.connect(lambda **_: update(state="crawling"), signal=signals.response_received,
                      weak=False)
        stats.connect(lambda **_: update(), signal=signals.item_scraped, weak=False)
        stats.connect(lambda **_: update(state="done", total=1, completed=1),
                      signal=signals.spider_closed, weak=False)

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
