"""The commands that read the store: matches, show, explain, label, rescore, digest, evaluate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli import (
    DOCUMENT,
    ROWS,
    ConfigProblem,
    cli,
    format_option,
    load,
    load_optional,
    open_store,
    read_page_for_cli,
)
from crawler.config import Config, parse_duration
from pipelines.output.report import render, stream

TABLE_ROWS = 50  # the table's page: a screenful or two; JSON and CSV give every row
MATCH_CSV = ["id", "url", "title", "source", "topic", "score", "published", "first_seen", "also_in",
             "label"]


def _topics(config: Config | None) -> list[Any]:
    from pipelines.scoring.topics import resolve_topics

    try:
        return resolve_topics(config.topics if config else None)
    except ValueError as exc:
        raise ConfigProblem(f"invalid [[topics]]: {exc}") from None


@cli.command()
@click.option("--since", default="7d", show_default=True,
              help="Only matches first seen this recently (e.g. 12h, 7d, 30d).")
@click.option("--topic", help="Only this topic.")
@click.option("--source", help="Only stories whose best article is from this source.")
@click.option("--search", help="Only articles whose title or text contains TEXT (any case; "
                               "3 characters or more use the search index).")
@click.option("--min-score", type=float, help="Only matches scoring at least this.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"At most this many rows; 0 for all [default: {TABLE_ROWS} in the table, all "
                   "in JSON and CSV, written as they are read].")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Skip this many rows first: the next page is --offset LIMIT.")
@format_option(*ROWS)
@click.pass_context
def matches(ctx: click.Context, since: str, topic: str | None, source: str | None,
            search: str | None, min_score: float | None, limit: int | None, offset: int,
            fmt: str) -> None:
    """Stored matches, one row per story and topic, best first."""
    from pipelines.storage.queries import Filters, iter_story_matches, story_page
    from pipelines.storage.search import MIN_INDEXED, uses_index

    config = load(ctx)
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    _known(topic, [t.name for t in _topics(config)], "--topic", "topics")
    _known(source, [s.name for s in config.sources], "--source", "sources")
    filters = Filters(since=datetime.now(UTC) - window, topic=topic, source=source, search=search,
                      min_score=min_score)
    if limit is None and fmt == "table":
        limit = TABLE_ROWS
    with open_store(config).session() as session:
        if search and not uses_index(session, search):
            why = (f"shorter than {MIN_INDEXED} characters" if len(search) < MIN_INDEXED
                   else "this database has no search index (see the log of its migration)")
            click.echo(f"--search {search!r}: {why}, so the text of every match since {since} is "
                       "read; narrow it with --since or --topic if this is slow", err=True)
        if fmt == "table":
            page = story_page(session, filters, limit=limit or None, offset=offset)
            _matches_table(page.rows, page.total, offset, page.estimated)
            return
        # JSON and CSV may hold every match of years: written row by row, never held at once.
        rows = (_match_row(row.to_json(), fmt) for row in iter_story_matches(
            session, filters, limit=limit or None, offset=offset))
        for chunk in stream(rows, fmt, MATCH_CSV):
            click.echo(chunk, nl=False)
        click.echo()


def _match_row(row: dict[str, Any], fmt: str) -> dict[str, Any]:
    if fmt != "json":
        row["also_in"] = [place["source"] for place in row["also_in"]]
        row["date"] = (row["published"] or row["first_seen"]).strftime("%m-%d")
        if fmt == "table" and row["label"]:
            row["score"] = f"{row['score']:.2f}*"
    return row


def _matches_table(rows: list[Any], total: int, offset: int, estimated: bool = False) -> None:
    data = [_match_row(r.to_json(), "table") for r in rows]
    columns = ["id", "score", "topic", "source", "date", "title", "also_in", "url"]
    if len({row["topic"] for row in data}) <= 1:
        columns.remove("topic")
    click.echo(render(data, "table", columns))
    if any(row["label"] for row in data):
        click.echo("* labelled relevant by a reader: a match whatever the terms score")
    end = offset + len(data)
    if data and (offset or end < total):
        more = f"; --offset {end} for the next page" if end < total else ""
        of = f"about {total:,}" if estimated else total
        click.echo(f"rows {offset + 1}-{end} of {of}{more}; --limit 0 for all")


def _known(value: str | None, names: list[str], option: str, what: str) -> None:
    """An unknown name is a mistake to say, not an empty result to print."""
    if value is not None and value not in names:
        raise click.BadParameter(f"no {what[:-1]} named {value!r} ({what}: "
                                 f"{', '.join(names) or 'none configured'})", param_hint=option)


@cli.command()
@click.argument("article_id", type=int, metavar="ID")
@format_option(*DOCUMENT)
@click.pass_context
def show(ctx: click.Context, article_id: int, fmt: str) -> None:
    """One stored article: its text, every topic's score and reasons, its labels, its copies."""
    from pipelines.output.views import article_report, format_report

    config = load(ctx)
    with open_store(config).session() as session:
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
@format_option(*DOCUMENT)
@click.option("--language", default=None, help="Language hint, e.g. ko.")
@click.pass_context
def explain(ctx: click.Context, target: str, fmt: str, language: str | None) -> None:
    """Clean a page and score it against every topic, with the reasons; stores nothing.

    An article ID (from `matches` or the digest) explains that stored article as the topics and
    readers' labels score it now.
    """
    from pipelines.extraction.extract import extract_article
    from pipelines.output.views import (
        explain_stored,
        extracted_json,
        extracted_text,
        format_explanation,
        format_scores,
    )
    from pipelines.scoring.scorer import score_all

    if target.isdigit() and not Path(target).exists():
        config = load(ctx)
        with open_store(config).session() as session:
            report = explain_stored(session, int(target), _topics(config))
        if report is None:
            raise _no_article(int(target))
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str) if fmt == "json"
                   else format_explanation(report))
        return
    config = load_optional(ctx)
    article = extract_article(*read_page_for_cli(target), language)
    scores = [s.to_json() for s in score_all(article.title, article.text, article.language,
                                             _topics(config))]
    click.echo(json.dumps({**extracted_json(article), "scores": scores}, ensure_ascii=False, indent=2)
               if fmt == "json" else extracted_text(target, article) + "\n" + format_scores(scores))


@cli.command()
@click.option("--topic", help="Re-score only against this topic.")
@click.pass_context
def rescore(ctx: click.Context, topic: str | None) -> None:
    """Score every stored article again, e.g. after a topic or threshold changed."""
    from pipelines.scoring.rescore import rescore as rescore_articles

    config = load(ctx)
    topics = _topics(config)
    _known(topic, [t.name for t in topics], "--topic", "topics")
    if topic:
        topics = [t for t in topics if t.name == topic]
    click.echo(str(rescore_articles(open_store(config), topics)))


@cli.command()
@click.argument("article_id", type=int, metavar="ID")
@click.argument("verdict", type=click.Choice(["relevant", "irrelevant"]))
@click.option("--topic", help="The topic the verdict is about (default: the first topic).")
@format_option("table", "json")
@click.pass_context
def label(ctx: click.Context, article_id: int, verdict: str, topic: str | None, fmt: str) -> None:
    """Record a reader's verdict on an article; scoring learns from it.

    The stored articles similar to it (first seen in the last dedupe window) are re-scored at
    once, and the ones whose score moved are listed.
    """
    from pipelines.scoring.nudge import judge

    config = load(ctx)
    topics = _topics(config)
    names = [t.name for t in topics]
    _known(topic, names, "--topic", "topics")
    topic = topic or names[0]
    store = open_store(config)
    try:
        verdict_done = judge(store, topics, article_id, topic, verdict == "relevant",
                             days=config.dedupe.window_days)
    except LookupError:
        raise _no_article(article_id) from None
    if fmt == "json":
        click.echo(json.dumps(verdict_done.to_json(), ensure_ascii=False))
        return
    click.echo(f"article #{article_id} labelled {verdict} for {topic}")
    moved = verdict_done.moved
    if moved:
        click.echo(f"nudged ({len(moved)} of {len(verdict_done.nudges)} similar articles moved):")
        for nudge in moved:
            click.echo(f"  {nudge}  {(nudge.title or '')[:70]}")
    else:
        click.echo(f"nudged: none ({len(verdict_done.nudges)} similar articles re-scored; "
                   "their scores did not move)")


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
    from pipelines.digest.links import digest_links
    from pipelines.storage.health import attention

    config = load(ctx)
    store = open_store(config)
    notes = attention(store, config)
    links = digest_links(config)
    if mode == "preview":
        content = preview_digest(store, config.digest, attention=notes, links=links)
        if content.count == 0 and not config.digest.send_empty and not notes:
            click.echo("nothing to send: no new matches since the last digest "
                       "(with digest.send_empty = true this mail would go out):\n")
        click.echo(f"Subject: {content.subject}\n\n{content.text}")
        if html_file:
            Path(html_file).write_text(content.html, encoding="utf-8")
            click.echo(f"(HTML written to {html_file})", err=True)
        return
    try:
        results = send_pending(store, config.digest, base_dir=config.base_dir, attention=notes,
                               links=links)
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
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", is_flag=True,
              help="Also report two-fold figures (nothing tuned on the half measured).")
@click.option("--topic", help="The topic to measure (default: ai-research-policy).")
@format_option(*DOCUMENT)
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
