"""One crawl round: every (or one) configured source, each as its own spider, in this process."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.crawler import CrawlerProcess

from crawler.health import round_counts
from crawler.locks import not_running, source_locks
from crawler.progress import CrawlProgress
from crawler.settings import build_settings
from crawler.spiders import SPIDERS
from pipelines.storage.store import Store

if TYPE_CHECKING:
    from crawler.config import Config, SourceConfig

logger = logging.getLogger(__name__)


@dataclass
class RoundResult:
    """What one source's round did, for the command line's summary."""

    source: str
    status: str
    new_articles: int
    skipped: int
    failures: int
    requests: int
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def crawl_round(
    config: Config, sources: list[SourceConfig] | None = None, *, progress: bool = False,
    **settings: Any,
) -> list[RoundResult]:
    """Crawl the sources once; a failing source is recorded on its own row and never stops others.

    Twisted's reactor runs once per process, so call this once per process (the daemon runs
    each round in a child process for exactly this reason, and for isolation). A source that
    another process is crawling is skipped, with the status `busy` (see crawler/locks.py).
    """
    chosen = [s for s in (sources or config.sources) if s.enabled]
    store = Store.open(config.database_url)
    store.sync_sources(config.sources)
    locks = config.path(config.crawl.cache_dir) / "locks"
    close_abandoned(store, locks)
    with source_locks(locks, chosen) as free:
        results = _crawl(config, free, progress, settings)
    busy = [source for source in chosen if source not in free]
    for source in busy:
        logger.warning("[%s] skipped: another newswatch process is crawling it", source.name)
    results += [RoundResult(source=s.name, status="busy", new_articles=0, skipped=0, failures=0,
                            requests=0, error="another newswatch process is crawling this source")
                for s in busy]
    order = {source.name: i for i, source in enumerate(chosen)}
    return sorted(results, key=lambda r: order[r.source])


def close_abandoned(store: Store, locks: Path) -> None:
    """Rounds left `running` by a process that died (kill -9, power cut): closed as abandoned.

    Only where no process holds the source's lock now, so a round in progress is left alone.
    """
    gone = not_running(locks, store.running_sources())
    if gone:
        count = store.close_abandoned_runs(gone, ABANDONED)
        logger.warning("closed %d crawl round(s) of %s left running by a newswatch process that "
                       "ended without finishing them", count, ", ".join(gone))


ABANDONED = "abandoned: the newswatch process crawling it ended before the round did (killed?)"


def _crawl(config: Config, chosen: list[SourceConfig], progress: bool,
           settings: dict[str, Any]) -> list[RoundResult]:
    if not chosen:
        return []
    process = CrawlerProcess(build_settings(config, LOG_INSTALL_ROOT_HANDLER=False, **settings))
    display = CrawlProgress() if progress else None
    crawlers = []
    for source in chosen:
        crawler = process.create_crawler(SPIDERS[source.kind])
        crawlers.append((source, crawler))
        if display:
            display.watch(source.name, crawler)
        process.crawl(crawler, source=source)
    with display or contextlib.nullcontext():
        process.start()
    results = []
    for source, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        counts = round_counts(stats)
        results.append(RoundResult(
            source=source.name,
            status=stats.get("newswatch/status", "failed"),
            new_articles=counts["new_articles"],
            skipped=counts["skipped"],
            failures=counts["failures"],
            requests=counts["requests"],
            error=stats.get("newswatch/error", "the round did not start (see the log)"),
        ))
    return results
