"""newswatch on several machines: one Redis for the work in progress, one PostgreSQL for the rest.

Redis holds only what is in flight: the due polls (the scheduler pushes them, any worker takes
them), each running round's ledger (crawler/ledger.py: any worker may handle any of its requests,
through scrapy-redis's shared request queue), the leases that keep a source to one round at a time
and the scheduler role to one process, and the events that tell the scheduler a round ended. The
store stays the truth: a request lost with a dead worker, or with Redis itself, is found again at
the source's next poll, because only what is stored counts as fetched.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.exceptions import RedisError

from crawler.config import Config, ConfigError, SourceConfig
from crawler.rounds import Round, Rounds

if TYPE_CHECKING:
    from pipelines.storage.store import Store

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Compare-and-delete, compare-and-extend: a lease is only ever released or renewed by its owner.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0")


class Cluster:
    """The cluster's Redis: polls, leases, round ledgers, events. Every call survives an outage:
    it logs once, waits nothing, and answers as if there were nothing to do."""

    def __init__(self, url: str, prefix: str = "newswatch") -> None:
        self.url = url
        self.prefix = prefix
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                          health_check_interval=15)
        self.down_since: float | None = None

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

    def safely(self, call: Callable[[], T], default: T) -> T:
        """Run a Redis call; when Redis cannot be reached, say so once and return `default`."""
        try:
            result = call()
        except RedisError as exc:
            if self.down_since is None:
                self.down_since = time.time()
                logger.error("Redis unreachable at %s (%s): polls wait until it is back", self.shown,
                             exc)
            return default
        if self.down_since is not None:
            logger.warning("Redis is back after %.0fs", time.time() - self.down_since)
            self.down_since = None
        return result

    @property
    def shown(self) -> str:
        """The URL without its password, for messages."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"

    def ping(self) -> bool:
        return self.safely(lambda: bool(self.redis.ping()), False)

    # -- due polls ------------------------------------------------------------------------------

    def push_poll(self, name: str) -> bool | None:
        """Queue a poll of the source unless one is queued already; None when Redis is down."""
        def push() -> bool:
            if not self.redis.sadd(self.key("queued"), name):
                return False
            self.redis.rpush(self.key("polls"), name)
            return True

        return self.safely(push, None)

    def pop_poll(self, wait: float) -> str | None:
        """The next due poll, waiting up to `wait` seconds for one."""
        def pop() -> str | None:
            found = self.redis.blpop([self.key("polls")], timeout=max(1, int(wait)))
            if not found:
                return None
            name = found[1].decode()
            self.redis.srem(self.key("queued"), name)
            return name

        return self.safely(pop, None)

    def queued(self) -> set[str] | None:
        """The sources with a poll waiting for a worker; None when Redis is unreachable."""
        found = self.safely(lambda: self.redis.smembers(self.key("queued")), None)
        return None if found is None else {name.decode() for name in found}

    # -- leases ---------------------------------------------------------------------------------

    def lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take the lease `name` for `seconds` unless another owner holds it."""
        return self.safely(lambda: bool(self.redis.set(self.key("lease", name), owner, nx=True,
                                                       px=int(seconds * 1000))), False)

    def renew(self, name: str, owner: str, seconds: float) -> bool:
        return self.safely(lambda: bool(self.redis.eval(_RENEW, 1, self.key("lease", name), owner,
                                                        int(seconds * 1000))), False)

    def release(self, name: str, owner: str) -> None:
        self.safely(lambda: self.redis.eval(_RELEASE, 1, self.key("lease", name), owner), None)

    def holder(self, name: str) -> str | None:
        value = self.safely(lambda: self.redis.get(self.key("lease", name)), None)
        return value.decode() if value else None

    # -- rounds ---------------------------------------------------------------------------------

    def open_round(self, run_id: int, meta: dict[str, Any], keep_seconds: float) -> None:
        """Register a round any worker may find by its run id; its keys expire after `keep_seconds`."""
        def write() -> None:
            pipe = self.redis.pipeline()
            pipe.hset(self.key("run", run_id, "meta"), mapping={k: json.dumps(v) for k, v in meta.items()})
            pipe.sadd(self.key("runs"), run_id)
            # Outlives the source's lease, so the scheduler still knows the round when it expires.
            pipe.expire(self.key("run", run_id, "meta"), int(keep_seconds + 300))
            pipe.execute()

        self.safely(write, None)

    def round_meta(self, run_id: int) -> dict[str, Any] | None:
        raw = self.safely(lambda: self.redis.hgetall(self.key("run", run_id, "meta")), {})
        return {k.decode(): json.loads(v) for k, v in raw.items()} or None

    def close_round(self, run_id: int) -> None:
        """The round is over: no worker may take up its requests any more. Its ledger stays until
        it expires, so the worker that started the round, if another one ended it, still reads
        it as over (and lets its source go) instead of ending it a second time."""
        def drop() -> None:
            self.redis.delete(self.key("run", run_id, "meta"))
            self.redis.srem(self.key("runs"), run_id)

        self.safely(drop, None)

    def runs(self) -> list[int]:
        return sorted(int(v) for v in self.safely(lambda: self.redis.smembers(self.key("runs")), set()))

    def ledger(self, run_id: int, keep_seconds: float) -> RedisLedger:
        return RedisLedger(self, self.key("run", run_id), int(keep_seconds))

    # -- events ---------------------------------------------------------------------------------

    def push_event(self, event: dict[str, Any]) -> None:
        self.safely(lambda: self.redis.rpush(self.key("events"), json.dumps(event, default=str)), None)

    def pop_events(self, most: int = 100) -> list[dict[str, Any]]:
        def pop() -> list[bytes]:
            pipe = self.redis.pipeline()
            pipe.lrange(self.key("events"), 0, most - 1)
            pipe.ltrim(self.key("events"), most, -1)
            return pipe.execute()[0]

        return [json.loads(raw) for raw in self.safely(pop, [])]


class RedisLedger:
    """A round's ledger in Redis (see crawler/ledger.py): one atomic command a change."""

    def __init__(self, cluster: Cluster, base: str, keep_seconds: int) -> None:
        self.cluster = cluster
        self.redis = cluster.redis
        self.base = base
        self.keep = keep_seconds

    def _key(self, *parts: str) -> str:
        return ":".join([self.base, *parts])

    def _write(self, key: str, call: Callable[[], T], default: T) -> T:
        def with_expiry() -> T:
            result = call()
            self.redis.expire(key, self.keep, nx=True)
            return result

        return self.cluster.safely(with_expiry, default)

    def add(self, key: str, amount: int = 1) -> int:
        name = self._key("counters")
        # Redis down: an answer that stops nothing and ends nothing; the round is then abandoned.
        return int(self._write(name, lambda: self.redis.hincrby(name, key, amount), 1))

    def counters(self) -> dict[str, int]:
        raw = self.cluster.safely(lambda: self.redis.hgetall(self._key("counters")), {})
        return {k.decode(): int(v) for k, v in raw.items()}

    def first(self, key: str, value: str) -> bool:
        name = self._key("values")
        return bool(self._write(name, lambda: self.redis.hsetnx(name, key, value), False))

    def values(self) -> dict[str, str]:
        raw = self.cluster.safely(lambda: self.redis.hgetall(self._key("values")), {})
        return {k.decode(): v.decode() for k, v in raw.items()}

    def append(self, key: str, value: str, keep: int = 50) -> None:
        name = self._key("list", key)

        def push() -> None:
            self.redis.rpush(name, value)
            self.redis.ltrim(name, -keep, -1)

        self._write(name, push, None)

    def items(self, key: str) -> list[str]:
        return [v.decode() for v in self.cluster.safely(
            lambda: self.redis.lrange(self._key("list", key), 0, -1), [])]

    def put(self, key: str, field: str, value: str) -> None:
        name = self._key("map", key)
        self._write(name, lambda: self.redis.hset(name, field, value), None)

    def mapping(self, key: str) -> dict[str, str]:
        raw = self.cluster.safely(lambda: self.redis.hgetall(self._key("map", key)), {})
        return {k.decode(): v.decode() for k, v in raw.items()}

    def include(self, key: str, member: str) -> None:
        name = self._key("set", key)
        self._write(name, lambda: self.redis.sadd(name, member), None)

    def members(self, key: str) -> set[str]:
        return {v.decode() for v in self.cluster.safely(
            lambda: self.redis.smembers(self._key("set", key)), set())}


# A round's keys in Redis outlive its deadline by this much: time for its last requests (cut at
# the deadline, crawler/limits.py) and the items still in the pipeline.
LEASE_GRACE = 15.0
# A source's lease, renewed every RENEW_SECONDS by the worker polling it: a worker that dies loses
# its sources within this time (and the scheduler's next sweep gives them to another).
LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0


class ClusterRounds(Rounds):
    """Rounds whose ledgers live in Redis: a worker starts the rounds of the polls it takes (each
    under a lease on its source), and handles any round's requests from the shared queue."""

    def __init__(self, cluster: Cluster, owner: str, config: Config, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster = cluster
        self.owner = owner
        self.config = config
        self.views: dict[int, Round] = {}

    @property
    def keep_seconds(self) -> float:
        return self.limits.seconds * 1.25 + LEASE_GRACE

    def _open(self, source: SourceConfig) -> Round | None:
        if not self.cluster.lease(f"source:{source.name}", self.owner, LEASE_SECONDS):
            return None  # another worker polls it now
        try:
            source_id = self.store.source_id(source.name)
            run_id, settled = self.store.begin_round(source_id)
        except Exception:
            self.cluster.release(f"source:{source.name}", self.owner)
            raise
        deadline = time.time() + self.limits.seconds
        self.cluster.open_round(run_id, {"source": source.name, "source_id": source_id,
                                         "deadline": deadline, "settled": settled,
                                         "owner": self.owner, "started": time.time()},
                                self.keep_seconds)
        current = self._view(source, run_id, source_id, settled, deadline, time.time())
        self.views[run_id] = current
        return current

    def _view(self, source: SourceConfig, run_id: int, source_id: int, settled: dict[str, str],
              deadline: float, started: float) -> Round:
        return Round(source=source, source_id=source_id, run_id=run_id, store=self.store,
                     limits=self.limits, configured_domains=self.domains(source), settled=settled,
                     deadline=deadline, started=started,
                     ledger=self.cluster.ledger(run_id, self.keep_seconds), on_over=self._over)

    def of(self, meta: dict[str, Any]) -> Round | None:
        """The round of a request from the shared queue, whichever worker started it."""
        run_id = meta.get("run")
        if not isinstance(run_id, int):
            return None
        current = self.views.get(run_id)
        if current is None:
            found = self.cluster.round_meta(run_id)
            if found is None or found.get("source") != meta.get("source"):
                return None
            try:
                source = self.config.source(found["source"])
            except ConfigError:
                return None  # a source this worker's config does not have
            current = self._view(source, run_id, found["source_id"], found["settled"],
                                 found["deadline"], found["started"])
            self.views[run_id] = current
        if current.over:
            self.views.pop(run_id, None)
            return None
        return current

    def _over(self, current: Round, reason: str = "finished") -> None:
        """The round ended here (this worker took its last request or item): record it for all."""
        self.views.pop(current.run_id, None)
        super()._over(current, reason)
        meta = self.cluster.round_meta(current.run_id) or {}
        self.cluster.release(f"source:{current.name}", meta.get("owner", self.owner))
        self.cluster.close_round(current.run_id)

    def renew_leases(self) -> None:
        """Keep the sources of this worker's rounds; a lease that expired while Redis was away is
        taken again if nobody has it, and a round whose source went to another worker stops."""
        for current in list(self.active.values()):
            lease = f"source:{current.name}"
            if current.over:  # another worker ended it (and let the source go): reap drops it
                continue
            if (self.cluster.renew(lease, self.owner, LEASE_SECONDS) or self.cluster.down_since
                    or self.cluster.lease(lease, self.owner, LEASE_SECONDS)):
                continue
            logger.error("[%s] another worker polls it now (this one lost its lease): round stopped",
                         current.name)
            current.time_up()

    def reap(self) -> None:
        """Rounds this worker started that another one ended: free their slots for waiting polls."""
        for name, current in list(self.active.items()):
            if current.over:
                del self.active[name]
                timer = self._timers.pop(current.run_id, None)
                if timer is not None and timer.active():
                    timer.cancel()
        self._fill()


def abandon_stale_rounds(cluster: Cluster, store: Store, events: Callable[[dict[str, Any]], None]) -> None:
    """Rounds whose lease ran out before they ended (their worker died, or Redis lost them): closed
    as abandoned, so their sources may be polled again; what they stored stays stored."""
    for run_id in cluster.runs():
        meta = cluster.round_meta(run_id)
        if meta is None:  # its keys expired (Redis was away for long): the store still knows it
            store.close_abandoned_run(run_id, "abandoned: its worker stopped answering before the "
                                              "round ended")
            cluster.close_round(run_id)
            continue
        if cluster.holder(f"source:{meta['source']}") == meta.get("owner"):
            continue  # its worker still renews the lease: still running
        reason = ("abandoned: its worker stopped answering before the round ended "
                  f"(lease of {meta['source']} expired)")
        store.close_abandoned_run(run_id, reason)
        cluster.close_round(run_id)
        events({"event": "round", "source": meta["source"], "status": "abandoned", "new_articles": 0,
                "skipped": 0, "failures": 0, "requests": 0, "error": reason})
        logger.warning("[%s] round %d abandoned: its lease expired", meta["source"], run_id)
