"""The crawl service: one Scrapy engine that stays up and polls each source when asked.

`newswatch crawl` runs it once over the chosen sources and exits; the daemon (scheduler.py) runs it
as a child process (`python -m crawler.service CONFIG`) that takes due polls on stdin, one JSON
object a line (`{"poll": "name"}`), and reports on stdout (`{"event": "round", ...}`, a heartbeat
every few seconds). Store, extraction workers, near-duplicate index, topics and readers' examples
are loaded once, when the service starts, and closed when its engine stops.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from scrapy.settings.default_settings import TWISTED_REACTOR as REACTOR
from scrapy.utils.reactor import install_reactor

from crawler.config import Config, ConfigError, load_config
from crawler.health import SHUTDOWN
from crawler.locks import SourceLocks
from crawler.rounds import Limits, Round, RoundResult, Rounds
from crawler.settings import build_settings
from crawler.spiders.candidates import site_domain
from crawler.spiders.news import NewsSpider
from pipelines.stages.resources import StageResources
from pipelines.storage.store import Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.cluster import Cluster
    from crawler.config import SourceConfig
    from crawler.progress import CrawlProgress

logger = logging.getLogger("crawler.service")  # also when run as __main__
HEARTBEAT_SECONDS = 5.0
# How often the service looks whether readers labelled articles (their examples then change).
EXAMPLES_SECONDS = 60.0
ABANDONED = "abandoned: the newswatch process crawling it ended before the round did (killed?)"


class CrawlService:
    """One engine for every source; rounds start when asked and end on their own."""

    def __init__(self, config: Config, *, keep_running: bool,
                 on_round: Callable[[RoundResult], None] = lambda result: None,
                 extra_settings: dict[str, Any] | None = None) -> None:
        # Scrapy's reactor, installed before anything (a thread, a timer) imports Twisted's default.
        if "twisted.internet.reactor" not in sys.modules:
            install_reactor(REACTOR)
        self.config = config
        self.keep_running = keep_running
        self.on_round = on_round
        self.store = Store.open(config.database_url)
        self.store.sync_sources(config.sources)
        self.locks = SourceLocks(config.path(config.crawl.cache_dir) / "locks")
        self.cluster: Cluster | None = None
        common = {"store": self.store, "limits": Limits.of(config.crawl),
                  "parallel": config.crawl.parallel_rounds, "domains": _configured_domains,
                  "begin": self._begin, "ended": self._ended}
        if config.cluster is None:
            close_abandoned(self.store, self.locks)
            self.rounds: Rounds = Rounds(**common, lock=self.locks.take)
        else:  # sources are leased in Redis, not locked in files (crawler/cluster.py)
            from crawler.cluster import Cluster, ClusterRounds

            self.cluster = Cluster(config.cluster.redis)
            self.rounds = ClusterRounds(self.cluster, worker_name(), config, **common)
        self.resources = build_resources(config, self.store, self.rounds.count)
        self.process = CrawlerProcess(build_settings(
            config, LOG_INSTALL_ROOT_HANDLER=False, NEWSWATCH_RESOURCES=self.resources,
            NEWSWATCH_ROUNDS=self.rounds, **(extra_settings or {})))
        self.crawler: Crawler = self.process.create_crawler(NewsSpider)
        self.crawler.signals.connect(self._idle, signal=signals.spider_idle)
        self.crawler.signals.connect(self._closed, signal=signals.spider_closed)
        self.crawler.signals.connect(self._opened, signal=signals.spider_opened)
        self.results: list[RoundResult] = []
        self.first: list[SourceConfig] = []
        self.stopping = False
        self._labels = self.store.labels_version()

    # -- running ----------------------------------------------------------------------------

    def run(self, sources: Iterable[SourceConfig] = ()) -> list[RoundResult]:
        """Start the engine, poll `sources`, and block until it stops; the rounds' results."""
        self.first = list(sources)
        self.process.crawl(self.crawler)
        self.process.start(install_signal_handlers=False)  # blocks; our handlers: _install_signals
        return self.results

    def poll(self, name: str) -> None:
        """Poll a source as soon as the service has room (in the reactor thread)."""
        if self.stopping:
            return
        try:
            source = self.config.source(name)
        except ConfigError as exc:
            logger.warning("%s", exc)
            return
        if not self.rounds.ask(source):
            logger.info("[%s] already being polled; this poll is skipped", name)

    def stop(self, grace: float | None = None) -> None:
        """Stop taking polls; rounds get `grace` seconds (crawl.stop_grace_seconds), then end."""
        from twisted.internet import reactor

        if self.stopping:
            return
        self.stopping = True
        grace = self.config.crawl.stop_grace_seconds if grace is None else grace
        logger.info("stopping: %d rounds running get %gs to finish", len(self.rounds.active), grace)
        self.rounds.waiting.clear()
        if not self.rounds.active:
            self._close()
            return
        reactor.callLater(grace, self._close)

    def _close(self, reason: str = SHUTDOWN) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None and engine.running:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=reason))

    # -- the engine's signals -----------------------------------------------------------------

    def _opened(self, spider: NewsSpider) -> None:
        self.spider = spider
        self._install_signals()
        for source in self.first:
            self.rounds.ask(source)

    def _begin(self, current: Round) -> None:
        self.crawler.engine.crawl(self.spider.index_request(current, current.source.url))

    def _ended(self, result: RoundResult) -> None:
        self.results.append(result)
        self.on_round(result)
        if (self.stopping or not self.keep_running) and not len(self.rounds):
            # Done: close now, rather than at the engine's next idle check (up to 5 s later).
            self._close("finished")

    def _idle(self, spider: NewsSpider) -> None:
        if self.keep_running and not self.stopping:
            raise DontCloseSpider
        if len(self.rounds):  # rounds waiting for a slot, or between two of their requests
            raise DontCloseSpider

    def _closed(self, spider: NewsSpider, reason: str) -> None:
        self.rounds.stop_all(SHUTDOWN if reason != "finished" else reason)
        self.resources.close()
        self.locks.close()

    def _install_signals(self) -> None:
        """SIGTERM or Ctrl-C: stop taking work, let rounds finish for the grace period; twice: now."""
        from twisted.internet import reactor

        def graceful(signum: int, _frame: Any) -> None:
            signal.signal(signum, lambda *_: reactor.callFromThread(self._close))
            reactor.callFromThread(self.stop)

        signal.signal(signal.SIGTERM, graceful)
        signal.signal(signal.SIGINT, graceful)

    # -- the long-lived service ---------------------------------------------------------------

    def every(self, seconds: float, call: Callable[[], None]) -> None:
        """Call `call` every `seconds` in the reactor while the engine runs."""
        loops = []

        def start(**_: Any) -> None:
            # Made only now: a LoopingCall imports the reactor, which must be Scrapy's choice.
            from twisted.internet.task import LoopingCall

            loops.append(LoopingCall(self._survive, call))
            loops[0].start(seconds, now=False)

        self.crawler.signals.connect(start, signal=signals.engine_started, weak=False)
        self.crawler.signals.connect(lambda **_: [loop.stop() for loop in loops if loop.running],
                                     signal=signals.engine_stopped, weak=False)

    @staticmethod
    def _survive(call: Callable[[], None]) -> None:
        """Run a periodic task; a failure (the database away) is logged in one line and the task
        runs again next time, where a LoopingCall would stop for good."""
        try:
            call()
        except Exception as exc:
            logger.error("%s failed (%s); tried again later", getattr(call, "__name__", "a task"),
                         str(exc).splitlines()[0][:200])

    def refresh_examples(self) -> None:
        """Readers labelled articles since the workers started: give them the new examples."""
        version = self.store.labels_version()
        if version != self._labels:
            self._labels = version
            self.resources.examples = self.store.examples()
            self.resources.pool.refresh(self.resources.examples)
            logger.info("readers' labels changed: scoring examples reloaded")


def build_resources(config: Config, store: Store, count: Callable[[str, str, int], None]
                    ) -> StageResources:
    """The pipeline stages' resources: loaded once for the service's whole life."""
    from pipelines.dedupe.near_duplicates import NearDuplicates
    from pipelines.scoring.topics import resolve_topics
    from pipelines.workers.pool import PagePool

    examples = store.examples()
    return StageResources(
        store=store, topics=resolve_topics(config.topics or None), examples=examples,
        pool=PagePool(config.crawl.extract_workers, config.topics, examples),
        near_duplicates=NearDuplicates(config.dedupe.near_duplicate_threshold,
                                       config.dedupe.window_days),
        count=count)


def _configured_domains(source: SourceConfig) -> tuple[str, ...]:
    return (site_domain(source.url), *source.allowed_domains)


def close_abandoned(store: Store, locks: SourceLocks) -> None:
    """Rounds left `running` by a process that died (kill -9, power cut): closed as abandoned.

    Only where no process holds the source's lock now, so a round in progress is left alone.
    """
    gone = locks.not_running(store.running_sources())
    if gone:
        count = store.close_abandoned_runs(gone, ABANDONED)
        logger.warning("closed %d crawl round(s) of %s left running by a newswatch process that "
                       "ended without finishing them", count, ", ".join(gone))


def crawl_once(config: Config, sources: Sequence[SourceConfig] | None = None, *,
               progress: bool = False, **settings: Any) -> list[RoundResult]:
    """One round of every (or the chosen) enabled source in this process, then return.

    Twisted's reactor runs once per process: call this once per process.
    """
    chosen = [s for s in (sources or config.sources) if s.enabled]
    if not chosen:
        return []
    service = CrawlService(config, keep_running=False, extra_settings=settings)
    display: CrawlProgress | None = None
    if progress:  # imported only then: rich's display costs a start 20 ms
        from crawler.progress import CrawlProgress

        display = CrawlProgress(service.rounds)
        service.every(0.25, display.refresh)
        service.on_round = display.ended
    with display or _nothing():
        results = service.run(chosen)
    order = {source.name: i for i, source in enumerate(chosen)}
    return sorted(results, key=lambda r: order.get(r.source, len(order)))


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def serve(config_path: Path) -> None:
    """The daemon's crawl service: polls from stdin, events on stdout, until stdin closes or SIGTERM."""
    from crawler.logs import setup_logging

    setup_logging(verbose=False)
    config = load_config(config_path)
    emit_lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        with emit_lock:
            sys.stdout.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()

    service = CrawlService(config, keep_running=True,
                           on_round=lambda result: emit({"event": "round", **result.to_json()}))

    def beat() -> None:
        emit({"event": "heartbeat", "at": time.time(), "active": sorted(service.rounds.active),
              "waiting": len(service.rounds.waiting)})

    service.every(HEARTBEAT_SECONDS, beat)
    service.every(EXAMPLES_SECONDS, service.refresh_examples)
    threading.Thread(target=_read_commands, args=(service,), name="commands", daemon=True).start()
    if service.cluster is not None:  # polls come from Redis, and a round ended goes back there
        from crawler.cluster import RENEW_SECONDS

        cluster = service.cluster
        service.on_round = lambda result: (emit({"event": "round", **result.to_json()}),
                                           cluster.push_event({"event": "round", **result.to_json()}))
        service.every(1.0, service.rounds.reap)  # type: ignore[attr-defined]
        service.every(RENEW_SECONDS, service.rounds.renew_leases)  # type: ignore[attr-defined]
        threading.Thread(target=_take_polls, args=(service, cluster), name="polls",
                         daemon=True).start()
    emit({"event": "ready", "pid": _pid()})
    service.run()
    emit({"event": "stopped"})


def _read_commands(service: CrawlService) -> None:
    """Polls arrive on stdin; its end (the daemon died) stops the service."""
    from twisted.internet import reactor

    for line in sys.stdin:
        try:
            command = json.loads(line)
        except ValueError:
            logger.warning("ignored a command that is not JSON: %.80s", line)
            continue
        if "poll" in command:
            reactor.callFromThread(service.poll, str(command["poll"]))
        elif command.get("stop"):
            reactor.callFromThread(service.stop)
    reactor.callFromThread(service.stop)


def _take_polls(service: CrawlService, cluster: Cluster) -> None:
    """A cluster worker takes due polls from Redis while it has room for more rounds."""
    from twisted.internet import reactor

    while not service.stopping:
        if len(service.rounds) >= service.config.crawl.parallel_rounds:
            time.sleep(0.5)
            continue
        name = cluster.pop_poll(wait=2)
        if name is not None:
            reactor.callFromThread(service.poll, name)
        elif cluster.down_since is not None:
            time.sleep(2)  # Redis unreachable: wait, then ask again


def worker_name() -> str:
    """This worker's name in leases: host and process, unique across the cluster's machines."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _pid() -> int:
    import os

    return os.getpid()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
