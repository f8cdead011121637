"""A source's crawl round inside the long-lived engine: its budget, deadline, counts and outcome.

Every source shares one Scrapy engine (crawler/service.py), so what used to be one crawler's stats
is a Round's: the spider and the pipeline stages count on the round of the item's source. A round
is over when nothing of it is pending (requests scheduled, items in the pipeline); it is then
recorded as a crawl run, and the source may be polled again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from crawler.config import parse_duration
from crawler.health import TIMED_OUT, round_counts, round_error, round_status
from crawler.ledger import Ledger, MemoryLedger
from crawler.limits import ENDED_BY
from pipelines.dedupe.identity import canonical_url, on_site

if TYPE_CHECKING:
    from crawler.config import CrawlConfig, SourceConfig
    from crawler.spiders.candidates import Candidate
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)


@dataclass
class RoundResult:
    """What one source's round did: the command line's summary and the daemon's event."""

    source: str
    status: str
    new_articles: int
    skipped: int
    failures: int
    requests: int
    error: str | None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Limits:
    """What bounds every round: crawl.max_articles_per_round, max_requests_per_round,
    max_page_bytes and round_timeout (their defaults live in crawler/config.py)."""

    max_articles: int
    max_requests: int
    max_page_bytes: int
    seconds: float
    round_timeout: str  # as the user wrote it, for messages

    @classmethod
    def of(cls, crawl: CrawlConfig) -> Limits:
        return cls(max_articles=crawl.max_articles_per_round, max_requests=crawl.max_requests_per_round,
                   max_page_bytes=crawl.max_page_bytes,
                   seconds=parse_duration(crawl.round_timeout).total_seconds(),
                   round_timeout=crawl.round_timeout)


# Ledger counters of the round's own bookkeeping, kept apart from its stats.
_PENDING, _REQUESTS, _ARTICLES = "@pending", "@requests", "@articles"


@dataclass(eq=False)
class Round:
    """One poll of one source: what it may still do, what it did, and when it is over.

    What changes while it runs is in its ledger (crawler/ledger.py): memory in one process, Redis
    on a cluster, where any worker may handle any of its requests.
    """

    source: SourceConfig
    source_id: int
    run_id: int
    store: Store
    limits: Limits
    configured_domains: tuple[str, ...]
    settled: dict[str, str]
    deadline: float  # epoch seconds: workers on several machines read it alike
    started: float = field(default_factory=time.time)
    ledger: Ledger = field(default_factory=MemoryLedger)
    on_over: Callable[[Round], None] | None = None

    @property
    def name(self) -> str:
        return self.source.name

    # -- counting ---------------------------------------------------------------------------

    def inc_value(self, key: str, count: int = 1) -> None:
        self.ledger.add(key, count)

    def count_of(self, key: str) -> int:
        return self.ledger.counters().get(key, 0)

    def error(self, key: str, message: str) -> None:
        """A failure of this source, counted and said once in the log."""
        self.ledger.add(key)
        self.ledger.append("errors", message)
        logger.warning("[%s] %s", self.name, message)

    def errors(self) -> list[str]:
        return self.ledger.items("errors")

    def limit_reached(self, limit: str) -> None:
        """Past one of the round's limits: nothing more is fetched; the first limit is the one said."""
        self.ledger.add(f"newswatch/limit/{limit}")
        if self.ledger.first(ENDED_BY, limit):
            logger.warning("[%s] round limit reached (crawl.%s): no more requests this round",
                           self.name, limit)

    def all_stats(self) -> dict[str, Any]:
        counters = {k: v for k, v in self.ledger.counters().items() if not k.startswith("@")}
        return {**counters, **{k: v for k, v in self.ledger.values().items() if not k.startswith("@")},
                "downloader/request_count": self.requests}

    # -- what is pending, and what it may still do --------------------------------------------

    @property
    def requests(self) -> int:
        return self.ledger.counters().get(_REQUESTS, 0)

    @property
    def pending(self) -> int:
        return self.ledger.counters().get(_PENDING, 0)

    @property
    def over(self) -> bool:
        return "@over" in self.ledger.values()

    @property
    def timed_out(self) -> bool:
        return "@timed_out" in self.ledger.values() or time.time() > self.deadline

    def started_one(self) -> None:
        """A request or an item of this round is on its way."""
        self.ledger.add(_PENDING)

    def done_one(self) -> None:
        """A request's callback or errback finished, or an item left the pipeline: the one that
        brings nothing pending ends the round, in whatever process it runs."""
        over = self.ledger.add(_PENDING, -1) <= 0 and self.ledger.first("@over", "1")
        if over and self.on_over is not None:
            self.on_over(self)

    def take_request(self) -> bool:
        """Whether one more request is within crawl.max_requests_per_round (and count it)."""
        if self.ledger.add(_REQUESTS) <= self.limits.max_requests:
            return True
        self.ledger.add(_REQUESTS, -1)
        return False

    def time_up(self) -> None:
        """The deadline passed: requests still queued are dropped at the gate (crawler/limits.py)."""
        if not self.over and self.ledger.first("@timed_out", "1"):
            self.ledger.first(ENDED_BY, "round_timeout")
            logger.warning("[%s] round stopped at crawl.round_timeout (%s)", self.name,
                           self.limits.round_timeout)

    def seconds_left(self) -> float:
        return self.deadline - time.time()

    def unsettle(self, index_url: str) -> None:
        """An index with a link not dealt with: read it again next round."""
        if index_url:
            self.ledger.include("unsettled", index_url)

    def domains(self) -> list[str]:
        """The sites this round may fetch from: the source's own, and those its index vouched for."""
        return [*self.configured_domains, *sorted(self.ledger.members("domains"))]

    def vouch(self, domains: Iterable[str]) -> None:
        for domain in domains:
            if domain not in self.configured_domains:
                self.ledger.include("domains", domain)

    # -- index bodies read before ------------------------------------------------------------

    def already_settled(self, url: str, body: bytes) -> bool:
        """Whether this index body was read before and every article link on it dealt with.

        Reading it again would only find links the store knows: an unchanged source then costs a
        304 and no parsing. A link over the round's budget, or an article that failed in a way
        worth retrying (5xx, timeout), leaves its index unsettled, so the next round reads it
        again. The hash covers the source's config too: new selectors or domains mean new links.
        """
        body_hash = hashlib.sha1(body)
        body_hash.update(self.source.model_dump_json().encode())
        value = body_hash.hexdigest()
        self.ledger.put("hashes", url, value)
        if self.settled.get(url) != value:
            return False
        self.inc_value("newswatch/index_settled")
        return True

    def still_settled(self, url: str) -> bool:
        """Whether the last whole round read this index page and dealt with every link on it; if
        so it stays settled for the next round without being fetched in this one.

        A listing's walk stops at a settled page whose next page is settled too: news is added at
        the top, so nothing new can be further on, and an unchanged section costs one request.
        """
        value = self.settled.get(url)
        if value is None:
            return False
        self.ledger.put("hashes", url, value)
        return True

    def settled_now(self) -> dict[str, str]:
        """The indexes of this round whose article links were all dealt with, for the next one."""
        unsettled = self.ledger.members("unsettled")
        return {url: value for url, value in self.ledger.mapping("hashes").items()
                if url not in unsettled}

    # -- the articles ------------------------------------------------------------------------

    def new_candidates(self, candidates: Iterable[Candidate], index_url: str) -> Iterator[Candidate]:
        """The links not fetched before, newest first, within the round's article budget."""
        fresh: dict[str, Candidate] = {}
        domains = self.domains()
        for candidate in candidates:
            if not candidate.url.startswith(("http://", "https://")):
                self.inc_value("newswatch/skipped/not_http")  # javascript:, mailto:, a typo
                continue
            if not on_site(candidate.url, domains):
                self.inc_value("newswatch/skipped/offsite")
                continue
            fresh.setdefault(canonical_url(candidate.url), candidate)
        for known in self.store.known_urls(list(fresh)):
            del fresh[known]
            self.inc_value("newswatch/skipped/known")
        oldest = datetime.min.replace(tzinfo=UTC)
        for candidate in sorted(fresh.values(), key=lambda c: c.published or oldest, reverse=True):
            if self.ledger.add(_ARTICLES) > self.limits.max_articles:
                self.inc_value("newswatch/skipped/over_budget")
                self.unsettle(index_url)
                continue
            yield candidate

    # -- the outcome -------------------------------------------------------------------------

    def finish(self, reason: str = "finished") -> RoundResult:
        """Record the round as a crawl run and carry its outcome onto the source's health."""
        stats = self.all_stats()
        reason = TIMED_OUT if self.timed_out and reason == "finished" else reason
        status = round_status(stats, reason)
        error = round_error(stats, reason, self.errors(), self.limits)
        counts = round_counts(stats)
        whole = reason == "finished" and ENDED_BY not in stats
        self.store.finish_run(
            self.run_id, status=status, error=error, counts=counts,
            stats={k: v for k, v in stats.items() if isinstance(v, int | float | str)},
            unconditional=bool(stats.get("newswatch/index_unconditional")),
            # A round cut short has not dealt with its links: keep what the last whole one said.
            settled_indexes=self.settled_now() if whole else None,
        )
        seconds = time.time() - self.started
        logger.info("[%s] round %s: %d new, %d skipped, %d failed, %d requests, %.1fs", self.name,
                    status, counts["new_articles"], counts["skipped"], counts["failures"],
                    counts["requests"], seconds)
        return RoundResult(source=self.name, status=status, new_articles=counts["new_articles"],
                           skipped=counts["skipped"], failures=counts["failures"],
                           requests=counts["requests"], error=error, seconds=round(seconds, 3))


class Rounds:
    """The rounds in progress, at most `parallel` at once; the sources asked for wait their turn.

    A source is never polled twice at once: asking for a source already running or waiting is a
    no-op. `begin` is told of each round that starts (the service then schedules its first
    request); `ended` of each round that is over, with its result.
    """

    def __init__(self, store: Store, limits: Limits, parallel: int,
                 domains: Callable[[SourceConfig], tuple[str, ...]],
                 begin: Callable[[Round], None], ended: Callable[[RoundResult], None],
                 lock: Callable[[str], Callable[[], None] | None] = lambda name: lambda: None,
                 clock: Any = None) -> None:
        self.store = store
        self.limits = limits
        self.parallel = parallel
        self.domains = domains
        self.begin = begin
        self.ended = ended
        self.lock = lock
        self.clock = clock
        self.active: dict[str, Round] = {}
        self.waiting: deque[SourceConfig] = deque()
        self._timers: dict[int, Any] = {}
        self._releases: dict[int, Callable[[], None]] = {}

    def __len__(self) -> int:
        return len(self.active) + len(self.waiting)

    def __deepcopy__(self, memo: dict[int, Any]) -> Rounds:
        """Scrapy copies its settings deeply; the service's rounds are shared, never copied."""
        return self

    def get(self, name: str | None) -> Round | None:
        """The source's running round (an item's: its round runs until its items are through)."""
        return self.active.get(name) if name else None

    def of(self, meta: dict[str, Any]) -> Round | None:
        """The round a request belongs to, if it still runs: a request left over from an ended
        round (the service was stopping) must not count on the source's next one."""
        current = self.active.get(meta.get("source", ""))
        return current if current is not None and current.run_id == meta.get("run") else None

    def ask(self, source: SourceConfig) -> bool:
        """Poll this source as soon as a slot is free; False when it is running or waiting already."""
        if source.name in self.active or any(s.name == source.name for s in self.waiting):
            return False
        self.waiting.append(source)
        self._fill()
        return True

    def of_item(self, item: Any) -> Round | None:
        return self.of({"source": getattr(item, "source", ""), "run": getattr(item, "run_id", 0)})

    def count(self, item: Any, key: str, value: int = 1) -> None:
        """Count on the item's round (the pipeline stages' counter); an ended one ignores it."""
        found = self.of_item(item)
        if found is not None:
            found.inc_value(key, value)

    def _fill(self) -> None:
        while self.waiting and len(self.active) < self.parallel:
            source = self.waiting.popleft()
            try:
                current = self._open(source)
            except Exception as exc:  # the store away, no descriptor left for its lock: this
                # poll fails (and the daemon plans the next), not the service nor the polls behind
                why = ("the database cannot be reached" if isinstance(exc, SQLAlchemyError)
                       else f"the round could not start: {exc}")
                logger.error("[%s] not polled: %s", source.name, why.splitlines()[0][:200])
                self.ended(RoundResult(source.name, "failed", 0, 0, 0, 0, f"not polled: {why}"))
                continue
            if current is None:
                logger.warning("[%s] skipped: another newswatch process is crawling it", source.name)
                self.ended(RoundResult(source.name, "busy", 0, 0, 0, 0,
                                       "another newswatch process is crawling this source"))
                continue
            self.active[source.name] = current
            self._timers[current.run_id] = self._reactor().callLater(self.limits.seconds,
                                                                     current.time_up)
            self.begin(current)  # schedules the index request, which the round counts

    def _open(self, source: SourceConfig) -> Round | None:
        """A new round of the source, or None when another process is crawling it."""
        release = self.lock(source.name)
        if release is None:
            return None
        source_id = self.store.source_id(source.name)
        run_id, settled = self.store.begin_round(source_id)
        self._releases[run_id] = release
        return Round(source=source, source_id=source_id, run_id=run_id, store=self.store,
                     limits=self.limits, configured_domains=self.domains(source), settled=settled,
                     deadline=time.time() + self.limits.seconds, on_over=self._over)

    def _reactor(self) -> Any:
        if self.clock is None:
            from twisted.internet import reactor

            self.clock = reactor
        return self.clock

    def _over(self, current: Round, reason: str = "finished") -> None:
        if self.active.get(current.name) is current:
            del self.active[current.name]
        timer = self._timers.pop(current.run_id, None)
        if timer is not None and timer.active():
            timer.cancel()
        self._releases.pop(current.run_id, lambda: None)()
        try:
            result = current.finish(reason)
        except Exception as exc:  # the store is down: the round is lost, not the service
            logger.exception("[%s] could not record the round", current.name)
            result = RoundResult(current.name, "failed", 0, 0, 0, current.requests,
                                 f"could not record the round: {exc}")
        self.ended(result)
        self._fill()

    def stop_all(self, reason: str) -> None:
        """End every round now (the engine is closing): recorded with what they did so far."""
        self.waiting.clear()
        for current in list(self.active.values()):
            if current.ledger.first("@over", "1"):
                self._over(current, reason)
