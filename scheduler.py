"""The `newswatch` command line and daemon: thin wiring over crawler/ and pipelines/."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from crawler.config import Config, ConfigError, find_config, load_config, parse_duration
from crawler.logs import setup_logging
from pipelines.output.report import FORMATS, render

logger = logging.getLogger("newswatch")


class ConfigProblem(click.ClickException):
    """An unusable config file: exit 2, like any other usage error."""

    exit_code = 2


def _load(ctx: click.Context) -> Config:
    try:
        return load_config(find_config(ctx.obj["config"]))
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None


# One set of output options: rows print as a table, JSON or CSV; documents as text or JSON.
ROWS = FORMATS
DOCUMENT = ("text", "json")


def _format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="Output format (JSON keeps every field).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $NEWSWATCH_CONFIG, else ./newswatch.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail, Scrapy's included.")
@click.version_option(package_name="newswatch")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """Watch news portals, keep the articles about your topics, mail one digest a day."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["verbose"] = verbose
    setup_logging(verbose)


@cli.command()
@click.option("--source", "source_names", multiple=True, help="Crawl only this source (repeatable).")
@_format_option(*ROWS)
@click.pass_context
def crawl(ctx: click.Context, source_names: tuple[str, ...], fmt: str) -> None:
    """Run one crawl round of every (or one) source, then exit.

    Failing sources are recorded and reported; the exit code is still 0.
    """
    from crawler.service import crawl_once

    config = _load(ctx)
    try:
        chosen = [config.source(name) for name in source_names] or None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not (chosen or config.sources):
        raise ConfigProblem("no [[sources]] in the config; add one (see `newswatch init`)")
    _store(config)
    results = crawl_once(config, chosen, progress=sys.stderr.isatty())
    rows = [r.to_json() for r in results]
    click.echo(render(rows, fmt, ["source", "status", "new_articles", "skipped", "failures",
                                  "error"]))


@cli.command()
@_format_option(*ROWS)
@click.pass_context
def sources(ctx: click.Context, fmt: str) -> None:
    """Each source's health: stored articles, last run and status, failure streak, last error."""
    from pipelines.storage.health import source_rows

    config = _load(ctx)
    store = _store(config)
    store.sync_sources(config.sources)
    rows = source_rows(store, config)
    click.echo(render(rows, fmt, ["name", "articles", "last_run", "last_status", "failures",
                                  "health", "last_error", "why", "kind", "url"]))


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
@_format_option(*DOCUMENT)
@click.option("--language", default=None, help="Language hint, e.g. ko.")
def extract(inputs: tuple[str, ...], fmt: str, language: str | None) -> None:
    """Show what the clean stage makes of pages (files or URLs); JSON Lines with --format json."""
    from pipelines.extraction.extract import extract_article

    for target in inputs:
        body, url, content_type = _read_input(target)
        article = extract_article(body, url, content_type, language)
        if fmt == "json":
            click.echo(json.dumps(_article_json(article), ensure_ascii=False))
        else:
            click.echo(_article_text(target, article))


def _article_json(article: Any) -> dict[str, Any]:
    return {
        "title": article.title,
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "author": article.author,
        "canonical_url": article.canonical_url,
    }


def _article_text(target: str, article: Any) -> str:
    lines = [f"== {target}", f"title:     {article.title or ''}",
             f"published: {article.published.isoformat() if article.published else ''}",
             f"language:  {article.language or ''}", f"author:    {article.author or ''}", "",
             article.text or "(no article text found)", ""]
    return "\n".join(lines)


def _read_input(target: str) -> tuple[bytes, str, str | None]:
    """A page from a file or a URL, with the Content-Type the server sent (files have none)."""
    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": "newswatch/0.1"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read(), response.geturl(), response.headers.get("Content-Type")
        except OSError as exc:
            raise click.ClickException(f"{target}: could not fetch: {exc}") from None
    path = Path(target)
    if not path.is_file():
        raise click.BadParameter(f"{target}: no such file (give a file path or an http(s) URL)")
    body = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        body = gzip.decompress(body)
    return body, path.resolve().as_uri(), None


# -- inspecting matches ----------------------------------------------------------------------


def _topics(config: Config | None) -> list[Any]:
    from pipelines.scoring.topics import resolve_topics

    try:
        return resolve_topics(config.topics if config else None)
    except ValueError as exc:
        raise ConfigProblem(f"invalid [[topics]]: {exc}") from None


def _store(config: Config) -> Any:
    """The store, or exit 2 naming database.url when it cannot be opened."""
    from pipelines.storage.store import Store, StoreError

    try:
        return Store.open(config.database_url)
    except StoreError as exc:
        raise ConfigProblem(str(exc)) from None


@cli.command()
@click.option("--since", default="7d", show_default=True,
              help="Only matches first seen this recently (e.g. 12h, 7d, 30d).")
@click.option("--topic", help="Only this topic.")
@click.option("--source", help="Only stories whose best article is from this source.")
@click.option("--search", help="Only articles whose title or text contains TEXT.")
@click.option("--min-score", type=float, help="Only matches scoring at least this.")
@_format_option(*ROWS)
@click.pass_context
def matches(ctx: click.Context, since: str, topic: str | None, source: str | None,
            search: str | None, min_score: float | None, fmt: str) -> None:
    """Stored matches, one row per story and topic, best first."""
    from pipelines.storage.queries import story_matches

    config = _load(ctx)
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    _known(topic, [t.name for t in _topics(config)], "--topic", "topics")
    _known(source, [s.name for s in config.sources], "--source", "sources")
    with _store(config).session() as session:
        rows = story_matches(session, since=datetime.now(UTC) - window, topic=topic,
                             source=source, search=search, min_score=min_score)
    data = [r.to_json() for r in rows]
    if fmt != "json":
        for row in data:
            row["also_in"] = [place["source"] for place in row["also_in"]]
            row["date"] = (row["published"] or row["first_seen"]).strftime("%m-%d")
            if fmt == "table" and row["label"]:
                row["score"] = f"{row['score']:.2f}*"
    columns = ["id", "score", "topic", "source", "date", "title", "also_in", "url"]
    if len({row["topic"] for row in data}) <= 1:
        columns.remove("topic")
    if fmt == "csv":
        columns = ["id", "url", "title", "source", "topic", "score", "published", "first_seen",
                   "also_in", "label"]
    click.echo(render(data, fmt, columns))
    if fmt == "table" and any(row["label"] for row in data):
        click.echo("* labelled relevant by a reader: a match whatever the terms score")


def _known(value: str | None, names: list[str], option: str, what: str) -> None:
    """An unknown name is a mistake to say, not an empty result to print."""
    if value is not None and value not in names:
        raise click.BadParameter(f"no {what[:-1]} named {value!r} ({what}: "
                                 f"{', '.join(names) or 'none configured'})", param_hint=option)


@cli.command()
@click.argument("article_id", type=int, metavar="ID")
@_format_option(*DOCUMENT)
@click.pass_context
def show(ctx: click.Context, article_id: int, fmt: str) -> None:
    """One stored article: its text, every topic's score and reasons, its labels, its copies."""
    from pipelines.output.views import article_report, format_report

    config = _load(ctx)
    with _store(config).session() as session:
        report = article_report(session, article_id)
    if report is None:
        raise _no_article(article_id)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str)
               if fmt == "json" else format_report(report))


def _no_article(article_id: int) -> click.BadParameter:
    return click.BadParameter(f"no article #{article_id}; `newswatch matches` lists the ids",
                              param_hint="ID")


@cli.command()
@click.argument("target", metavar="FILE_OR_URL_OR_ID")
@_format_option(*DOCUMENT)
@click.option("--language", default=None, help="Language hint, e.g. ko.")
@click.pass_context
def explain(ctx: click.Context, target: str, fmt: str, language: str | None) -> None:
    """Clean a page and score it against every topic, with the reasons; stores nothing.

    An article ID (from `matches` or the digest) explains that stored article as the topics and
    readers' labels score it now.
    """
    from pipelines.extraction.extract import extract_article
    from pipelines.output.views import explain_stored, format_scores
    from pipelines.scoring.scorer import score_all

    if target.isdigit() and not Path(target).exists():
        config = _load(ctx)
        with _store(config).session() as session:
            report = explain_stored(session, int(target), _topics(config))
        if report is None:
            raise _no_article(int(target))
        if fmt == "json":
            click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            return
        click.echo(f"#{report['id']}  {report['title'] or '(untitled)'}\n"
                   f"source:    {report['source']}\nurl:       {report['url']}\n")
        click.echo(format_scores(report["scores"]))
        return
    config = _load_optional(ctx)
    body, url, content_type = _read_input(target)
    article = extract_article(body, url, content_type, language)
    scores = score_all(article.title, article.text, article.language, _topics(config))
    if fmt == "json":
        click.echo(json.dumps({**_article_json(article), "scores": [s.to_json() for s in scores]},
                              ensure_ascii=False, indent=2))
        return
    click.echo(_article_text(target, article))
    click.echo(format_scores([s.to_json() for s in scores]))


def _load_optional(ctx: click.Context) -> Config | None:
    """The config when there is one: `explain` works without, on the built-in topics."""
    path = find_config(ctx.obj["config"])
    if ctx.obj["config"] is None and not path.exists():
        return None
    return _load(ctx)


@cli.command()
@click.option("--topic", help="Re-score only against this topic.")
@click.pass_context
def rescore(ctx: click.Context, topic: str | None) -> None:
    """Score every stored article again, e.g. after a topic or threshold changed."""
    from pipelines.scoring.rescore import rescore as rescore_articles

    config = _load(ctx)
    topics = _topics(config)
    _known(topic, [t.name for t in topics], "--topic", "topics")
    if topic:
        topics = [t for t in topics if t.name == topic]
    click.echo(str(rescore_articles(_store(config), topics)))


@cli.command()
@click.argument("article_id", type=int, metavar="ID")
@click.argument("verdict", type=click.Choice(["relevant", "irrelevant"]))
@click.option("--topic", help="The topic the verdict is about (default: the first topic).")
@click.pass_context
def label(ctx: click.Context, article_id: int, verdict: str, topic: str | None) -> None:
    """Record a reader's verdict on an article; scoring learns from it."""
    from pipelines.scoring.rescore import rescore as rescore_articles
    from pipelines.scoring.rescore import set_label

    config = _load(ctx)
    topics = _topics(config)
    names = [t.name for t in topics]
    _known(topic, names, "--topic", "topics")
    topic = topic or names[0]
    store = _store(config)
    try:
        set_label(store, article_id, topic, verdict == "relevant")
    except LookupError:
        raise _no_article(article_id) from None
    rescore_articles(store, [t for t in topics if t.name == topic], article_ids=[article_id])
    click.echo(f"article #{article_id} labelled {verdict} for {topic}")


# -- the digest, first steps -------------------------------------------------------------------


@cli.command()
@click.option("--preview", "mode", flag_value="preview", default=True,
              help="Render the next digest without marking anything (the default).")
@click.option("--send", "mode", flag_value="send", help="Send the digest now.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False),
              help="With --preview: also write the HTML part to this file.")
@click.pass_context
def digest(ctx: click.Context, mode: str, html_file: str | None) -> None:
    """Preview the next digest, or send it now."""
    from pipelines.digest.daily import preview_digest, send_pending
    from pipelines.storage.health import attention

    config = _load(ctx)
    store = _store(config)
    notes = attention(store, config)
    if mode == "preview":
        content = preview_digest(store, config.digest, attention=notes)
        if content.count == 0 and not config.digest.send_empty and not notes:
            click.echo("nothing to send: no new matches since the last digest "
                       "(with digest.send_empty = true this mail would go out):\n")
        click.echo(f"Subject: {content.subject}\n\n{content.text}")
        if html_file:
            Path(html_file).write_text(content.html, encoding="utf-8")
            click.echo(f"(HTML written to {html_file})", err=True)
        return
    try:
        results = send_pending(store, config.digest, base_dir=config.base_dir, attention=notes)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None
    if not results:
        click.echo("nothing to send: no new matches (set digest.send_empty = true to mail anyway)")
    for result in results:
        click.echo(str(result), err=result.status != "sent")
    if any(result.status != "sent" for result in results):
        raise click.ClickException("the digest was not sent; it stays pending and is retried "
                                   "by the next `digest --send` or the daemon")


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def init(ctx: click.Context, path: str | None, force: bool) -> None:
    """Write a starter newswatch.toml with real Korean and English sources, every key explained."""
    from importlib.resources import files

    target = Path(path) if path else find_config(ctx.obj["config"])
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    target.write_text(files("crawler").joinpath("data/newswatch.toml").read_text("utf-8"),
                      encoding="utf-8")
    click.echo(f"wrote {target}; edit [digest] and the sources, then run: newswatch crawl")


@cli.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False),
              help="Keep the demo's database and outbox here (default: a new temporary folder).")
def demo(folder: str | None) -> None:
    """Run one whole cycle offline on bundled sample pages: crawl, flag, store, write the digest."""
    import tempfile

    from crawler.demo import demo_config, serve_demo_site
    from crawler.service import crawl_once
    from pipelines.digest.daily import preview_digest, send_pending
    from pipelines.storage.health import attention
    from pipelines.storage.queries import story_matches

    where = Path(folder or tempfile.mkdtemp(prefix="newswatch-demo-")).resolve()
    where.mkdir(parents=True, exist_ok=True)
    config_path = where / "newswatch.toml"
    with serve_demo_site() as base:
        config_path.write_text(demo_config(base, where), encoding="utf-8")
        config = load_config(config_path)
        click.echo(f"Serving the sample portal at {base}; crawling {len(config.sources)} sources…")
        results = crawl_once(config, progress=sys.stderr.isatty())
    click.echo(render([r.to_json() for r in results], "table",
                      ["source", "status", "new_articles", "skipped", "failures"]))
    store = _store(config)
    with store.session() as session:
        found = story_matches(session)
    click.echo(f"\n{len(found)} stories matched a topic:")
    click.echo(render([{**r.to_json(), "also_in": [p["source"] for p in r.also_in]}
                       for r in found], "table", ["id", "score", "source", "title", "also_in"]))
    notes = attention(store, config)
    html = where / "digest.html"
    html.write_text(preview_digest(store, config.digest, attention=notes).html, encoding="utf-8")
    sent = send_pending(store, config.digest, base_dir=config.base_dir, attention=notes, backoff=0)
    click.echo("")
    for result in sent:
        click.echo(f"digest: {result}")
    click.echo(f"\nEverything is in {where}:\n  config    {config_path}\n"
               f"  database  {where / 'newswatch.db'}\n  digest    {where / 'outbox'} (.eml), "
               f"{html} (open in a browser)\n"
               f"Look around: newswatch --config {config_path} matches | show ID | sources")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", is_flag=True,
              help="Also report two-fold figures (nothing tuned on the half measured).")
@click.option("--topic", help="The topic to measure (default: ai-research-policy).")
@_format_option(*DOCUMENT)
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
def evaluate(file: str, split: bool, topic: str | None, fmt: str, as_json: bool) -> None:
    """Precision, recall and F1 per language on labeled articles (JSON Lines)."""
    from pipelines.scoring.evaluate import evaluate as measure
    from pipelines.scoring.evaluate import render as render_report

    try:
        report = measure(file, topic=topic, split=split)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if fmt == "json" or as_json
               else render_report(report))


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
            if not self.service.alive():
                self.restart("it exited")
            elif self.service.silent_for() > silent_limit:
                self.restart(f"no heartbeat for {self.service.silent_for():.0f}s (crawl.heartbeat_timeout)")
            elif (used := self.service.memory()) > memory_limit:
                self.restart(f"it used {used / 2**20:.0f} MB (crawl.max_memory = {crawl.max_memory})")
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
        row = next(r for r in self.store.sources() if r.name == name)
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
        removed = self.store.prune_runs(datetime.now(UTC) - KEEP_RUNS)
        if removed:
            logger.info("forgot %d crawl runs older than %d days", removed, KEEP_RUNS.days)


# A missed digest goes out this soon; a poll the service could not take is tried again this soon.
CATCH_UP = timedelta(seconds=10)
RETRY = timedelta(seconds=10)
KEEP_RUNS = timedelta(days=30)


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: crawl each source on its interval, mail the digest daily."""
    config = _load(ctx)
    if not config.sources:
        raise ConfigProblem("no [[sources]] in the config; add one (see `newswatch init`)")
    store = _store(config)
    store.sync_sources(config.sources)
    Daemon(find_config(ctx.obj["config"]).resolve(), config, store).run()


def _config_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.obj["config"] = value


# `newswatch crawl --config F` works as `newswatch --config F crawl` does.
for _command in cli.commands.values():
    _command.params.append(click.Option(
        ["--config"], type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
        callback=_config_after_command, help="Config file (may also come before the command)."))


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
