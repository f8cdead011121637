"""`newswatch topics`, `topics test` and `topics add`: a topic's record, what a topic or a draft
query would match among the stored articles, and saving a one-line topic to the config.

Thin commands: the work is in pipelines/scoring/topic_report.py (scoring stored articles, labels)
and crawler/config_edit.py (the edit, comments kept).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from crawler.cli import ROWS, ConfigProblem, cli, format_option, load, open_store
from crawler.config import ConfigError, find_config, parse_duration
from pipelines.output.report import render
from pipelines.output.terminal import printable

if TYPE_CHECKING:
    from pipelines.scoring.topic_report import Trial
    from pipelines.scoring.topics import Topic

TRIAL_COLUMNS = ["id", "score", "verdict", "source", "date", "title", "reasons", "url"]
QUALITY_COLUMNS = ["topic", "kind", "threshold", "matches", "per_day", "labels", "agreed",
                   "overruled", "warning"]


def _since(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def _resolved(config: Any) -> list[Topic]:
    from pipelines.scoring.topics import resolve_topics

    try:
        return resolve_topics(config.topics or None)
    except ValueError as exc:
        raise ConfigProblem(f"invalid [[topics]]: {exc}") from None


def _draft(query: str, threshold: float | None) -> Topic:
    """A topic made of the query alone, as `topics add` would save it; a bad query exits 2."""
    from pipelines.scoring.query import QueryError
    from pipelines.scoring.query_groups import query_groups
    from pipelines.scoring.topics import Topic, TopicConfig

    try:
        query_groups(query)
    except QueryError as exc:
        raise click.BadParameter(str(exc), param_hint="--query") from None
    try:
        config = TopicConfig(name="draft", query=query,
                             **({"threshold": threshold} if threshold is not None else {}))
        return Topic(config)
    except ValueError as exc:
        raise click.BadParameter(_query_message(exc), param_hint="--query") from None


def _query_message(exc: ValueError) -> str:
    """Pydantic's wrapper taken off: the parser's own message, with its caret line."""
    text = str(exc)
    if "Value error, " in text:
        text = text.split("Value error, ", 1)[1].split(" [type=value_error", 1)[0]
    return text.rstrip()


@cli.group(invoke_without_command=True)
@click.option("--since", default="30d", show_default=True,
              help="Count matches first seen this recently.")
@format_option(*ROWS)
@click.pass_context
def topics(ctx: click.Context, since: str, fmt: str) -> None:
    """Each topic's record: matches per day, readers' labels agreed and overruled, and a warning
    when readers keep overruling it. Subcommands: test (try a topic or query), add (save one)."""
    from pipelines.scoring.topic_report import quality

    if ctx.invoked_subcommand is not None:
        return
    window = _since(since)
    config = load(ctx)
    resolved = _resolved(config)
    with open_store(config).session() as session:
        records = quality(session, resolved, datetime.now(UTC) - window,
                          window.total_seconds() / 86400)
    rows = [r.to_json() for r in records]
    click.echo(render(rows, fmt, QUALITY_COLUMNS))


@topics.command("test")
@click.argument("name", required=False)
@click.option("--query", help="A draft query to try instead of a configured topic.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="The draft's threshold (default 0.5).")
@click.option("--since", default="30d", show_default=True, help="Articles fetched this recently.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Rows in the table (0: all); JSON and CSV give every row.")
@format_option(*ROWS)
@click.pass_context
def test(ctx: click.Context, name: str | None, query: str | None, threshold: float | None,
         since: str, limit: int, fmt: str) -> None:
    """What a topic (or a draft --query) would have matched among the stored articles, per
    source, with the borderline ones near the threshold; stores nothing."""
    from pipelines.scoring.topic_report import BORDERLINE, trial

    if (name is None) == (query is None):
        raise click.UsageError("give a topic NAME or a draft --query (one of the two)")
    window = _since(since)
    config = load(ctx)
    if query is not None:
        topic = _draft(query, threshold)
    else:
        known = {t.name: t for t in _resolved(config)}
        if name not in known:
            raise click.BadParameter(f"no topic named {name!r} (topics: {', '.join(known)})",
                                     param_hint="NAME")
        topic = known[name]
    with open_store(config).session() as session:
        result = trial(session, topic, datetime.now(UTC) - window)
    rows = [_trial_row(row.to_json(), fmt) for row in result.rows]
    if fmt != "table":
        click.echo(render(rows, fmt, TRIAL_COLUMNS))
        return
    shown = rows[:limit] if limit else rows
    click.echo(render(shown, fmt, TRIAL_COLUMNS))
    if len(shown) < len(rows):
        click.echo(f"rows 1-{len(shown)} of {len(rows)}; --limit 0 for all")
    click.echo(_summary(result, since, BORDERLINE, topic.threshold))


def _trial_row(row: dict[str, Any], fmt: str) -> dict[str, Any]:
    row["verdict"] = ("match" if row["matched"] else "near") + (
        " (labelled)" if row["label"] else "")
    if fmt == "json":
        return row
    row["date"] = (row["published"] or row["fetched"]).strftime("%m-%d")
    row["reasons"] = "; ".join(row["reasons"])
    if fmt == "table":
        for key in ("title", "reasons", "url", "source"):
            row[key] = printable(row[key], 300)
    return row


def _summary(result: Trial, since: str, margin: float, threshold: float) -> str:
    per_source = ", ".join(f"{printable(source)} {count}" for source, count in
                           result.per_source.most_common()) or "none"
    return (f"{result.matched} of {result.articles} articles fetched in the last {since} would match "
            f"(by source: {per_source}); {result.borderline} borderline (score within ±{margin} of "
            f"the threshold {threshold:.2f}); nothing was stored")


@topics.command("add")
@click.argument("name")
@click.option("--query", required=True, help="The topic as a Boolean query (see README, Topics).")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Score needed to match (default 0.5).")
@click.option("--description", default=None, help="What the topic is about, for the digest.")
@click.option("--yes", is_flag=True, help="Save without asking.")
@click.pass_context
def add(ctx: click.Context, name: str, query: str, threshold: float | None, description: str | None,
        yes: bool) -> None:
    """Save a one-line topic (name and query) as a [[topics]] entry, comments kept."""
    import re

    from crawler.config_edit import add_topic

    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name) or len(name) > 64:
        raise click.BadParameter(f"{name!r}: write letters, digits, '-', '_' or '.' (at most 64), "
                                 "e.g. ai-policy", param_hint="NAME")
    config = load(ctx)
    if name in {t.name for t in _resolved(config)}:
        raise click.BadParameter(f'a topic named "{name}" exists already; choose another name',
                                 param_hint="NAME")
    _draft(query, threshold)
    entry: dict[str, Any] = {"name": name}
    if description:
        entry["description"] = description
    entry["query"] = query
    if threshold is not None:
        entry["threshold"] = threshold
    path = find_config(ctx.obj["config"])
    click.echo("[[topics]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in entry.items()))
    if not yes and not click.confirm(f"\nAdd topic \"{name}\" to {path}?", default=False, err=True):
        click.echo(f"not added; try it first with: newswatch topics test --query {_toml(query)}",
                   err=True)
        return
    try:
        add_topic(path, entry)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    click.echo(f'added topic "{name}" to {path}; `newswatch rescore --topic {name}` scores the '
               "stored articles with it")


def _toml(value: Any) -> str:
    import tomlkit

    return tomlkit.item(value).as_string()
