"""The `newswatch` daemon, and the entry point of the command line (crawler/cli.py and
pipelines/output/commands.py hold the other commands)."""

from __future__ import annotations

import atexit
import gc
import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import SQLAlchemyError

# Imported for their effect: they register the commands (`sources add` and the rest, the
# commands that read the store, `topics`, `web`).
import crawler.sources_cli  # noqa: F401
import pipelines.output.commands
import pipelines.output.topics_cli
import pipelines.output.web.command  # noqa: F401
from crawler.cli import ConfigProblem, accept_config_after_commands, cli, load, open_store
from crawler.config import Config, find_config, parse_duration

logger = logging.getLogger("newswatch")

# -- the daemon ----------------------------------------------------------------------------------


class Daemon:
    """The clock and the supervisor: APScheduler decides when each source is due and when the
    digest goes; one long-lived crawl service (crawler/service.py) does the polling.

    A due source is a line to the service, not a new process (on a cluster, a poll in Redis that
    any worker takes). The service is restarted when it stops heart-beating or grows past
    crawl.max_memory; its running rounds are then recorded as abandoned and polled again. Roles:
    `all` is both, `scheduler` only the clock (on a cluster, one is active, the others stand by),
    `worker` only a supervised crawl service taking polls from the cluster.
    """

    def __init__(self, config_path: Path, config: Config, store: Any, role: str = "all") -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        from crawler.cluster import Cluster
        from crawler.service import worker_name
        from crawler.supervisor import ServiceProcess

        self.config = config
        self.store = store
        self.role = role
        self.cluster = Cluster(config.cluster.redis) if config.cluster else None
        self.clock = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)}, timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        ) if role in ("all", "scheduler") else None
        # On a cluster the clock hears of rounds through Redis; alone, through the service's pipe.
        self.service = ServiceProcess(config_path, (lambda event: None) if self.cluster else self.heard
                                      ) if role in ("all", "worker") else None
        self.leading = self.clock is not None and self.cluster is None
        self.name = worker_name()
        self.stopping = threading.Event()
        self.sources = {s.name: s for s in config.sources if s.enabled}
        self.swept = 0.0  # when the cluster's active scheduler last looked for lost rounds and polls
        self.orphans: set[str] = set()
        self.noted: float | None = None  # the Redis outage `sources` was told of
        self.complained = 0.0  # when the daemon last said the database is away
        self.web: Any = None  # the web view's server ([web]), run in a thread of this process

    def run(self) -> None:
        from crawler.config import parse_size

        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if self.web is not None:
            from pipelines.output.web.serve import serve_in_thread

            serve_in_thread(self.web)
        if self.service:
            self.service.start()
        if self.clock:
            if self.leading:
                self.schedule(datetime.now(UTC))
            self.clock.start()
        logger.info("newswatch %s running with %d sources", "daemon" if self.role == "all"
                    else self.role, len(self.sources))
        crawl = self.config.crawl
        silent_limit = parse_duration(crawl.heartbeat_timeout).total_seconds()
        memory_limit = parse_size(crawl.max_memory)
        while not self.stopping.wait(1.0):
            trouble = self.service and self.service.trouble(silent_limit, memory_limit, crawl.max_memory)
            if trouble:
                self.restart(trouble)
            if self.clock and self.cluster:
                try:
                    self.lead()
                except SQLAlchemyError as exc:  # the database is away: wait for it, as for Redis
                    self.database_away(exc)
        if self.clock:
            self.clock.shutdown(wait=False)
            if self.cluster and self.leading:
                self.cluster.release("scheduler", self.name)
        if self.service:
            self.service.stop(crawl.stop_grace_seconds)
        if self.web is not None:
            self.web.stop()
        self.store.close()
        logger.info("newswatch %s stopped", "daemon" if self.role == "all" else self.role)

    def database_away(self, exc: Exception) -> None:
        """Say once a minute that the store cannot be reached; the loop goes on asking."""
        if time.monotonic() - self.complained > 60:
            self.complained = time.monotonic()
            logger.error("the database cannot be reached (%s): waiting for it",
                         str(exc).splitlines()[0][:200])

    def lead(self) -> None:
        """On a cluster: be the one active scheduler while holding its lease, or stand by."""
        from crawler.cluster import abandon_stale_rounds

        assert self.cluster is not None and self.clock is not None
        if self.leading and not self.cluster.renew("scheduler", self.name, LEADER_LEASE):
            logger.error("lost the scheduler lease: standing by")
            self.leading = False
            self.clock.remove_all_jobs()
        elif not self.leading and self.cluster.lease("scheduler", self.name, LEADER_LEASE):
            logger.info("this process is the cluster's scheduler now")
            self.leading = True
            self.schedule(datetime.now(UTC))
        if self.cluster.down_since is not None and self.noted != self.cluster.down_since:
            self.noted = self.cluster.down_since  # once an outage: `sources` says why polls wait
            since = datetime.fromtimestamp(self.noted, UTC).strftime("%Y-%m-%d %H:%M UTC")
            for name in self.sources:
                self.store.note_source(name, f"polls wait: Redis unreachable at "
                                             f"{self.cluster.shown} since {since}")
        if self.leading:
            for event in self.cluster.pop_events():
                self.heard(event)
            if time.monotonic() - self.swept > SWEEP_SECONDS:
                self.swept = time.monotonic()
                abandon_stale_rounds(self.cluster, self.store, self.heard)
                self.reconcile()

    def reconcile(self) -> None:
        """Sources nobody is about to poll (their poll or round-end event was lost with Redis, or
        with a worker that died between taking a poll and leasing its source) are planned again.

        One sweep's sighting may be a poll in the instant between taken and leased; a source is
        planned again only when the next sweep still finds it orphaned.
        """
        assert self.cluster is not None and self.clock is not None
        queued = self.cluster.queued()
        if queued is None:
            return  # Redis unreachable: nothing can be told apart now
        orphans = {name for name in self.sources
                   if name not in queued and self.clock.get_job(f"poll:{name}") is None
                   and self.cluster.holder(f"source:{name}") is None}
        now = datetime.now(UTC)
        for name in orphans & self.orphans:
            row = self.store.source(name)
            due = self.next_poll(self.sources[name], row, None, now) if row else now
            logger.warning("[%s] no poll was planned (its poll or its round's end was lost): "
                           "planned again", name)
            self.at(name, max(due, now))
        self.orphans = orphans

    def stop(self, signum: int, _frame: Any = None) -> None:
        """SIGTERM/SIGINT: take no more work; the service's rounds get crawl.stop_grace_seconds."""
        if not self.stopping.is_set():
            logger.info("signal %d: stopping; running rounds get %gs to finish", signum,
                        self.config.crawl.stop_grace_seconds)
            self.stopping.set()

    def schedule(self, now: datetime) -> None:
        """Each source at its next poll (the overdue ones spread out), and the daily digest."""
        from apscheduler.triggers.cron import CronTrigger

        from crawler.timing import RATE_WINDOW, digest_missed, spread

        rhythms = self.store.rhythms(now - RATE_WINDOW)
        overdue = []
        for row in self.store.sources():
            source = self.sources.get(row.name)
            if source is None:
                continue
            due = self.next_poll(source, row, rhythms.get(row.id), now)
            if due <= now:
                overdue.append(source.name)
            else:
                self.at(source.name, due)
        smallest = min((s.interval for s in self.sources.values()), default=timedelta(minutes=5))
        for name, when in spread(overdue, now, smallest, self.config.crawl.parallel_rounds).items():
            self.at(name, when)
        if overdue:
            logger.info("%d sources are due: polled over the next %s", len(overdue),
                        max(spread(overdue, now, smallest, self.config.crawl.parallel_rounds).values())
                        - now)
        digest = self.config.digest
        hour, minute = digest.at.split(":")
        tz = ZoneInfo(digest.timezone)
        kwargs: dict[str, Any] = {}
        if digest_missed(self.store.last_digest_at(), digest.at, tz, now):
            kwargs["next_run_time"] = now + CATCH_UP
            logger.info("a digest was missed while newswatch was down: sending it shortly")
        self.clock.add_job(self.send_digest, CronTrigger(hour=hour, minute=minute, timezone=tz),
                           id="digest", **kwargs)
        self.clock.add_job(self.prune, "interval", hours=6, id="prune")
        logger.info("digest daily at %s %s", digest.at, digest.timezone)

    def next_poll(self, source: Any, row: Any, rhythm: Any, now: datetime) -> datetime:
        from crawler.timing import Rhythm, jitter, poll_interval

        if row.last_run_at is None:
            return now
        interval, _ = poll_interval(source, rhythm or Rhythm(), now, row.consecutive_failures,
                                    self.config.crawl.backoff_after)
        return row.last_run_at + jitter(interval)

    def at(self, name: str, when: datetime) -> None:
        if self.clock is None or not self.leading:
            return
        self.clock.add_job(self.poll, "date", run_date=when, args=[name], id=f"poll:{name}",
                           replace_existing=True)

    def poll(self, name: str) -> None:
        if self.stopping.is_set():
            return
        if self.cluster is not None:
            if self.cluster.push_poll(name) is None:  # Redis unreachable: try again shortly
                self.store.note_source(name, f"polls wait: Redis unreachable at {self.cluster.shown}")
                self.at(name, datetime.now(UTC) + RETRY)
            return
        assert self.service is not None
        if name in self.service.running():
            return  # its round is still on; its end schedules the next poll
        if not self.service.poll(name):  # restarting: try again shortly
            self.at(name, datetime.now(UTC) + RETRY)

    def heard(self, event: dict[str, Any]) -> None:
        """An event from the service (in its reader thread): a round ended, so plan the next one."""
        if event.get("event") != "round" or self.stopping.is_set():
            return
        name = event["source"]
        source = self.sources.get(name)
        if source is None:
            return
        from crawler.timing import RATE_WINDOW, Rhythm, jitter, poll_interval

        now = datetime.now(UTC)
        try:
            row = self.store.source(name)
            # A fixed interval needs no rhythm: its week of crawl runs is read for "auto" alone.
            rhythm = (self.store.rhythms(now - RATE_WINDOW, row.id).get(row.id)
                      if row and source.adaptive else None)
        except SQLAlchemyError as exc:  # the database is away: ask again soon
            self.database_away(exc)
            self.at(name, now + RETRY)
            return
        if row is None:
            return
        interval, reason = poll_interval(source, rhythm or Rhythm(), now,
                                         row.consecutive_failures, self.config.crawl.backoff_after)
        due = now + jitter(interval)
        if event["status"] == "abandoned":  # it says nothing of the site: poll it again soon
            due, reason = now + RETRY, f"in {RETRY.seconds}s, as its round was abandoned"
        self.at(name, due)
        error = f" ({event['error']})" if event.get("error") else ""
        logger.info("[%s] round %s: %d new, %d skipped, %d failures%s; next poll: %s", name,
                    event["status"], event["new_articles"], event["skipped"], event["failures"],
                    error, reason)

    def restart(self, why: str) -> None:
        from crawler.service import ABANDONED

        assert self.service is not None and self.service.child is not None
        running, pid = self.service.running(), self.service.child.pid
        logger.error("restarting the crawl service: %s", why)
        self.service.kill()
        if self.cluster is not None:  # its leases go now; the scheduler closes its rounds
            for name in running:
                self.cluster.release(f"source:{name}", f"{self.name.split(':')[0]}:{pid}")
        else:
            self.store.close_abandoned_runs(sorted(running), f"{ABANDONED.split(':')[0]}: the crawl "
                                            f"service was restarted ({why})")
        self.service.start()
        now = datetime.now(UTC)
        for name in running if self.clock else ():  # what they stored stays; the rest is polled again
            self.at(name, now + RETRY)

    def send_digest(self) -> None:
        from pipelines.digest.daily import send_pending
        from pipelines.digest.links import digest_links
        from pipelines.storage.health import attention

        try:
            results = send_pending(self.store, self.config.digest, base_dir=self.config.base_dir,
                                   attention=attention(self.store, self.config),
                                   links=digest_links(self.config))
        except Exception:
            logger.exception("digest failed; it stays pending and is retried at the next run")
            return
        for result in results:
            logger.info("digest: %s", result)

    def prune(self) -> None:
        now = datetime.now(UTC)
        runs, bands = self.store.prune(now - KEEP_RUNS,
                                       now - timedelta(days=self.config.dedupe.window_days + 1))
        if runs or bands:
            logger.info("forgot %d crawl runs older than %d days and the near-duplicate keys of "
                        "articles out of the dedupe window (%d rows)", runs, KEEP_RUNS.days, bands)


# A missed digest goes out this soon; a poll the service could not take is tried again this soon.
CATCH_UP = timedelta(seconds=10)
RETRY = timedelta(seconds=10)
KEEP_RUNS = timedelta(days=30)
# On a cluster: how long the active scheduler's lease lasts (renewed every second), and how often
# it looks for rounds whose worker died.
LEADER_LEASE = 15.0
SWEEP_SECONDS = 15.0


@cli.command()
@click.option("--role", type=click.Choice(["all", "scheduler", "worker"]), default="all",
              show_default=True,
              help="all: this machine does everything; on a [cluster], scheduler: the clock and the "
                   "digest (one active, others stand by), worker: a crawl service taking polls.")
@click.pass_context
def run(ctx: click.Context, role: str) -> None:
    """Run the daemon: crawl each source on its interval, mail the digest daily (and serve the
    web view when the config has a [web] section)."""
    config = load(ctx)
    if not config.sources:
        raise ConfigProblem("no [[sources]] in the config; add one (see `newswatch init`)")
    if role != "all" and config.cluster is None:
        raise click.BadParameter(f"--role {role} needs a [cluster] section with redis = "
                                 "\"redis://host:6379/0\" in the config", param_hint="--role")
    store = open_store(config)
    store.sync_sources(config.sources)
    daemon = Daemon(find_config(ctx.obj["config"]).resolve(), config, store, role)
    daemon.web = _web_view(config) if role in ("all", "scheduler") else None
    daemon.run()


def _web_view(config: Config) -> Any:
    """With a [web] section, the web view's server (its own store), checked and bound before
    the daemon starts: a refused address exits 2 at once, not after the first crawl."""
    if config.web is None:
        return None
    from pipelines.output.web.serve import WebProblem, prepare

    try:
        return prepare(config, open_store(config))
    except WebProblem as exc:
        raise ConfigProblem(str(exc)) from None


accept_config_after_commands(cli)


def main() -> None:
    # At exit Python's last garbage collections walk every object the imports made (Scrapy,
    # SQLAlchemy, pydantic): 0.13 s at the end of every command, for memory the process is
    # giving back anyway. Frozen objects are skipped; every command has closed what it opened
    # by then, and atexit handlers (logging's flush) still run. Once, however often called.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    cli(obj={})


if __name__ == "__main__":
    main()
