"""The `newswatch` command line: the group, what every command shares, and the commands that set up
and run crawls (crawl, sources, extract, init, demo). The commands that read the store are in
pipelines/output/commands.py, the daemon (`run`) in scheduler.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from crawler.config import Config, ConfigError, find_config, load_config
from crawler.logs import setup_logging
from pipelines.output.report import FORMATS, render


class ConfigProblem(click.ClickException):
    """An unusable config file: exit 2, like any other usage error."""

    exit_code = 2


def load(ctx: click.Context) -> Config:
    try:
        return load_config(find_config(ctx.obj["config"]))
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None


def load_optional(ctx: click.Context) -> Config | None:
    """The config when there is one: `explain` works without, on the built-in topics."""
    path = find_config(ctx.obj["config"])
    if ctx.obj["config"] is None and not path.exists():
        return None
    return load(ctx)


def open_store(config: Config) -> Any:
    """The store, or exit 2 naming database.url when it cannot be opened."""
    from pipelines.storage.store import Store, StoreError

    try:
        return Store.open(config.database_url)
    except StoreError as exc:
        raise ConfigProblem(str(exc)) from None


# One set of output options: rows print as a table, JSON or CSV; documents as text or JSON.
ROWS = FORMATS
DOCUMENT = ("text", "json")


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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


def accept_config_after_commands(group: click.Group) -> None:
    """`newswatch crawl --config F` works as `newswatch --config F crawl` does."""
    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.obj["config"] = value

    for command in group.commands.values():
        if isinstance(command, click.Group):
            accept_config_after_commands(command)
        command.params.append(click.Option(
            ["--config"], type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
            callback=remember, help="Config file (may also come before the command)."))


@cli.command()
@click.option("--source", "source_names", multiple=True, help="Crawl only this source (repeatable).")
@format_option(*ROWS)
@click.pass_context
def crawl(ctx: click.Context, source_names: tuple[str, ...], fmt: str) -> None:
    """Run one crawl round of every (or one) source, then exit.

    Failing sources are recorded and reported; the exit code is still 0.
    """
    from crawler.service import crawl_once

    config = load(ctx)
    try:
        chosen = [config.source(name) for name in source_names] or None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not (chosen or config.sources):
        raise ConfigProblem("no [[sources]] in the config; add one (see `newswatch init`)")
    open_store(config)
    results = crawl_once(config, chosen, progress=sys.stderr.isatty())
    rows = [r.to_json() for r in results]
    click.echo(render(rows, fmt, ["source", "status", "new_articles", "skipped", "failures",
                                  "error"]))


@cli.group(invoke_without_command=True)
@format_option(*ROWS)
@click.pass_context
def sources(ctx: click.Context, fmt: str) -> None:
    """Each source's health: stored articles, last run and status, failure streak, last error.

    With a subcommand (add, test, remove, disable, enable): find, try and edit sources
    (crawler/sources_cli.py).
    """
    from pipelines.storage.health import source_rows

    if ctx.invoked_subcommand is not None:
        return
    config = load(ctx)
    store = open_store(config)
    store.sync_sources(config.sources)
    rows = source_rows(store, config)
    click.echo(render(rows, fmt, ["name", "articles", "last_run", "last_status", "failures",
                                  "health", "last_error", "why", "kind", "url"]))


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
@format_option(*DOCUMENT)
@click.option("--language", default=None, help="Language hint, e.g. ko.")
def extract(inputs: tuple[str, ...], fmt: str, language: str | None) -> None:
    """Show what the clean stage makes of pages (files or URLs); JSON Lines with --format json."""
    from pipelines.extraction.extract import extract_article
    from pipelines.output.views import extracted_json, extracted_text

    for target in inputs:
        article = extract_article(*read_page_for_cli(target), language)
        click.echo(json.dumps(extracted_json(article), ensure_ascii=False) if fmt == "json"
                   else extracted_text(target, article))


def read_page_for_cli(target: str) -> tuple[bytes, str, str | None]:
    from pipelines.extraction.fetch import PageUnavailable, read_page

    try:
        return read_page(target)
    except PageUnavailable as exc:
        if exc.missing:
            raise click.BadParameter(str(exc)) from None
        raise click.ClickException(str(exc)) from None


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

    from crawler.demo import run_demo

    where = Path(folder or tempfile.mkdtemp(prefix="newswatch-demo-")).resolve()
    run_demo(where, click.echo, progress=sys.stderr.isatty())
