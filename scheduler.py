"""The `newswatch` daemon, and the entry point of the command line (crawler/cli.py and
pipelines/output/commands.py hold the other commands)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

import pipelines.output.commands  # noqa: F401  (registers the commands that read the store)
from crawler.cli import ConfigProblem, accept_config_after_commands, cli, load, open_store
from crawler.config import Config, find_config, parse_duration

logger = logging.getLogger("newswatch")

# -- the daemon ----------------------------------------------------------------------------------


class Daemon:
    """The clock and the supervisor: APScheduler decides when each source is due and when the
    digest goes; one long-lived crawl service (crawler/service.py) does the polling.

    A due source is a line to the service, not a new process. The service is restarted when it
    stops heart-beating or grows past crawl.max_memory; its running rounds are then recorded as
    abandoned and polled again.
    """

    def __init__(self, config_path: Path, config: Config, store: Any) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        from crawler.supervisor import ServiceProcess

        self.config = config
        self.store = store
        self.clock = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)}, timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        self.service = ServiceProcess(config_path, self.heard)
        self.stopping = threading.Event()
        self.sources = {s.name: s for s in config.sources if s.enabled}

    def run(self) -> None:
        from crawler.config import parse_size

        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.service.start()
        self.schedule(datetime.now(UTC))
        self.clock.start()
        logger.info("newswatch daemon running with %d sources", len(self.sources))
        crawl = self.config.crawl
        silent_limit = parse_duration(crawl.heartbeat_timeout).total_seconds()
        memory_limit = parse_size(crawl.max_memory)
        while not self.stopping.wait(1.0):
            trouble = self.service.trouble(silent_limit, memory_limit, crawl.max_memory)
            if trouble:
                self.restart(trouble)
        self.clock.shutdown(wait=False)
        self.service.stop(crawl.stop_grace_seconds)
        self.store.close()
        logger.info("newswatch daemon stopped")

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
        self.clock.add_job(self.poll, "date", run_date=when, args=[name], id=f"poll:{name}",
                           replace_existing=True)

    def poll(self, name: str) -> None:
        if self.stopping.is_set():
            return
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
        row = self.store.source(name)
        if row is None:
            return
        rhythm = self.store.rhythms(now - RATE_WINDOW, row.id).get(row.id)
        interval, reason = poll_interval(source, rhythm or Rhythm(), now,
                                         row.consecutive_failures, self.config.crawl.backoff_after)
        self.at(name, now + jitter(interval))
        error = f" ({event['error']})" if event.get("error") else ""
        logger.info("[%s] round %s: %d new, %d skipped, %d failures%s; next poll: %s", name,
                    event["status"], event["new_articles"], event["skipped"], event["failures"],
                    error, reason)

    def restart(self, why: str) -> None:
        from crawler.service import ABANDONED

        running = self.service.running()
        logger.error("restarting the crawl service: %s", why)
        self.service.kill()
        self.store.close_abandoned_runs(sorted(running), f"{ABANDONED.split(':')[0]}: the crawl "
                                        f"service was restarted ({why})")
        self.service.start()
        now = datetime.now(UTC)
        for name in running:  # what they stored stays stored; the rest is polled again
            self.at(name, now + RETRY)

    def send_digest(self) -> None:
        from pipelines.digest.daily import send_pending
        from pipelines.storage.health import attention

        try:
            results = send_pending(self.store, self.config.digest, base_dir=self.config.base_dir,
                                   attention=attention(self.store, self.config))
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


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: crawl each source on its interval, mail the digest daily."""
    config = load(ctx)
    if not config.sources:
        raise ConfigProblem("no [[sources]] in the config; add one (see `newswatch init`)")
    store = open_store(config)
    store.sync_sources(config.sources)
    Daemon(find_config(ctx.obj["config"]).resolve(), config, store).run()


accept_config_after_commands(cli)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
