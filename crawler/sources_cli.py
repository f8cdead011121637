"""`newswatch sources add | test | remove | disable | enable`: find a source from a site's address,
try it without storing anything, and edit `[[sources]]` keeping the config's comments.

The commands parse options and render; discovery is crawler/discovery/discover.py, the dry poll and sample
articles crawler/discovery/source_check.py, the edits crawler/config_edit.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from crawler.cli import DOCUMENT, ConfigProblem, format_option, load, sources
from crawler.config import ConfigError, SourceConfig, find_config
from pipelines.output.terminal import printable

if TYPE_CHECKING:
    from crawler.discovery.discover import Discovery, Proposal, Rejected
    from crawler.discovery.source_check import DryPoll, Sample

_LANGUAGE = re.compile(r"^[a-z]{2}$")
SHOWN_ITEMS = 5


def _language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _LANGUAGE.match(value):
        raise click.BadParameter(f"{value!r} is not a two-letter language code; write e.g. ko or en")
    return value


def _http_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http(s) address; write e.g. "
                                 "https://www.example.com/ (the site's home or a section page)")
    return value


def _config_path(ctx: click.Context) -> Path:
    return find_config(ctx.obj["config"])


def _topics(config: Any) -> list[Any]:
    from pipelines.scoring.topics import resolve_topics

    try:
        return resolve_topics(config.topics or None)
    except ValueError as exc:
        raise ConfigProblem(f"invalid [[topics]]: {exc}") from None


def _discover(url: str, config: Any, language: str | None) -> Discovery:
    from crawler.discovery.discover import DiscoveryError, discover

    try:
        return discover(url, config.crawl, language)
    except DiscoveryError as exc:
        raise click.ClickException(str(exc)) from None


@sources.command("add")
@click.argument("url", callback=_http_url)
@click.option("--name", help="The source's name (default: the site's name, e.g. etnews).")
@click.option("--language", callback=_language, help="Language hint, e.g. ko (dates without a "
                                                      "zone are then Seoul time).")
@click.option("--yes", is_flag=True, help="Add the proposed entry without asking.")
@format_option(*DOCUMENT)
@click.pass_context
def add(ctx: click.Context, url: str, name: str | None, language: str | None, yes: bool,
        fmt: str) -> None:
    """Find what a site offers to poll (feeds, sitemaps, or a listing), show what it would store,
    and on confirmation append it to the config as a [[sources]] entry (comments kept)."""
    from crawler.config_edit import add_source
    from crawler.discovery.discover import default_name
    from crawler.discovery.source_check import sample_articles

    config = load(ctx)
    path = _config_path(ctx)
    name = name or default_name(url)
    if any(s.name == name for s in config.sources):
        raise click.BadParameter(f'a source named "{name}" is already in {path}; choose another '
                                 "name with --name", param_hint="--name")
    found = _discover(url, config, language)
    best = found.best
    if best is None:
        tried = "; ".join(f"{r.url}: {r.why}" for r in found.rejected) or "nothing"
        raise click.ClickException(f"nothing to poll found from {url} (tried: {tried}); give a "
                                   "section page with article links, or the feed's own address")
    entry = best.entry(name, language)
    try:
        SourceConfig.model_validate(entry)
    except ValueError as exc:
        raise click.ClickException(f"the proposed entry is not valid: {exc}") from None
    samples = sample_articles(found.fetcher, best.items, language, topics=_topics(config))
    if fmt == "json":
        click.echo(json.dumps(_discovery_json(found, samples, entry), ensure_ascii=False, indent=2))
    else:
        click.echo(_discovery_text(found, samples, entry))
    if not yes and not click.confirm(f"\nAdd source \"{name}\" to {path}?", default=False, err=True):
        click.echo("not added (pass --yes to add without asking)", err=True)
        return
    try:
        add_source(path, entry, comment=f"added by `newswatch sources add {url}`")
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    click.echo(f'added source "{name}" to {path}; try it with: newswatch sources test {name}',
               err=fmt == "json")


@sources.command("test")
@click.argument("target", metavar="NAME|URL")
@click.option("--articles", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Extract and score this many of the new articles.")
@click.option("--language", callback=_language, help="Language hint for a URL, e.g. ko.")
@format_option(*DOCUMENT)
@click.pass_context
def test(ctx: click.Context, target: str, articles: int, language: str | None, fmt: str) -> None:
    """One dry poll of a configured source (or of what `sources add URL` would propose): what it
    would request, what is new, extraction and topic scores for the first articles; stores nothing."""
    from crawler.discovery.discover import default_name
    from crawler.discovery.source_check import dry_poll

    config = load(ctx)
    if target.startswith(("http://", "https://")):
        best = _discover(target, config, language).best
        if best is None:
            raise click.ClickException(f"nothing to poll found from {target}; "
                                       "`newswatch sources add` shows what was tried")
        source = SourceConfig.model_validate(best.entry(default_name(target), language))
    else:
        try:
            source = config.source(target)
        except ConfigError as exc:
            raise click.BadParameter(f"{exc}; or give an http(s) address",
                                     param_hint="NAME|URL") from None
    poll = dry_poll(config, source, _topics(config), articles)
    click.echo(json.dumps(poll.to_json(), ensure_ascii=False, indent=2) if fmt == "json"
               else _poll_text(poll))


def _edit(ctx: click.Context, name: str, action: str) -> None:
    from crawler.config_edit import remove_source, set_source_enabled

    path = _config_path(ctx)
    load(ctx)  # an unusable config is said as such before anything is edited
    try:
        if action == "remove":
            remove_source(path, name)
        else:
            set_source_enabled(path, name, action == "enable")
    except ConfigError as exc:
        if str(exc).startswith("no source named"):
            raise click.BadParameter(str(exc), param_hint="NAME") from None
        raise ConfigProblem(str(exc)) from None


@sources.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Delete a source's [[sources]] entry from the config, comments elsewhere kept (its stored
    articles stay in the database)."""
    _edit(ctx, name, "remove")
    click.echo(f'removed source "{name}" from {_config_path(ctx)}; its stored articles are kept')


@sources.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Set `enabled = false` on a source: it is no longer polled, and stays in the config."""
    _edit(ctx, name, "disable")
    click.echo(f'disabled source "{name}" in {_config_path(ctx)}; `newswatch sources enable {name}` '
               "turns it back on")


@sources.command("enable")
@click.argument("name")
@click.pass_context
def enable(ctx: click.Context, name: str) -> None:
    """Set `enabled = true` on a source that was disabled."""
    _edit(ctx, name, "enable")
    click.echo(f'enabled source "{name}" in {_config_path(ctx)}')


# -- rendering ----------------------------------------------------------------------------------


def _date(value: Any) -> str:
    return value.isoformat(timespec="minutes") if value else "(no date)"


def _items(proposal: Proposal) -> list[str]:
    where = f"{len(proposal.items)} article links on the site"
    if proposal.offsite:
        where += f", {proposal.offsite} elsewhere (not followed)"
    lines = [f"  latest items ({where}):"]
    for item in proposal.items[:SHOWN_ITEMS]:
        lines.append(f"    {_date(item.published):<22} {printable(item.title or '(no title)', 100)}")
        lines.append(f"    {'':<22} {printable(item.url, 200)}")
    return lines


def _sample_lines(samples: list[Sample]) -> list[str]:
    lines = ["  sample articles (fetched and extracted as the clean stage would):"]
    for sample in samples:
        lines.append(f"    {printable(sample.url, 200)}")
        lines.append(f"      robots.txt: {printable(sample.robots)}")
        if sample.error:
            lines.append(f"      not extracted: {printable(sample.error)}")
        if sample.extracted:
            lines.append(f"      title: {printable(sample.title, 150)}")
            lines.append(f"      date: {_date(sample.published)}; language: {sample.language or '?'}; "
                         f"text: {sample.chars} characters")
            lines.append(f"      opening: {printable(sample.opening, 160)}")
        for score in sample.scores:
            verdict = "MATCH" if score["matched"] else "no match"
            lines.append(f"      topic {score['topic']}: {verdict} ({score['score']:.2f})")
    return lines if samples else ["  sample articles: none could be tried"]


def _discovery_text(found: Discovery, samples: list[Sample], entry: dict[str, Any]) -> str:
    best = found.proposals[0]
    _, why = found.fetcher.robots_verdict(best.url)
    kind = "Google News sitemap" if best.news_sitemap else best.kind
    lines = [f"page: {printable(found.page, 200)}", "",
             f"proposed: {kind} {printable(best.url, 200)}  (found by {best.found_by})",
             f"  robots.txt: {printable(why)}"]
    if best.links:
        lines.append(f"  links selector: {printable(best.links)}  (the repeated article links of the page)")
    lines += _items(best) + _sample_lines(samples)
    if len(found.proposals) > 1:
        lines += ["", "also found (ranked lower):"]
        for other in found.proposals[1:]:
            lines.append(f"  {other.kind} {printable(other.url, 200)}  ({other.found_by}; "
                         f"{len(other.items)} items, newest {_date(other.newest)})")
    if found.rejected:
        lines += ["", "not proposed:", *_rejected_lines(found.rejected)]
    lines += ["", f"requests made: {len(found.requested)}", "", "the [[sources]] entry:", "[[sources]]"]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items()]
    return "\n".join(lines)


def _rejected_lines(rejected: list[Rejected]) -> list[str]:
    """Guessed paths that are not there are one line, not a dozen."""
    from crawler.discovery.discover import COMMON_PATH

    missing = [r for r in rejected if r.found_by == COMMON_PATH and r.why.startswith("HTTP 4")]
    lines = [f"  {printable(r.url, 200)}  ({r.found_by}): {printable(r.why)}"
             for r in rejected if r not in missing]
    if missing:
        paths = ", ".join(sorted({urlsplit(r.url).path for r in missing}))
        lines.insert(0, f"  common feed paths, none there: {printable(paths, 400)}")
    return lines


def _proposal_json(proposal: Proposal) -> dict[str, Any]:
    return {"kind": proposal.kind, "url": proposal.url, "found_by": proposal.found_by,
            "news_sitemap": proposal.news_sitemap, "links": proposal.links,
            "newest": _date(proposal.newest) if proposal.newest else None,
            "offsite": proposal.offsite,
            "items": [{"url": c.url, "title": c.title,
                       "published": c.published.isoformat() if c.published else None}
                      for c in proposal.items]}


def _discovery_json(found: Discovery, samples: list[Sample], entry: dict[str, Any]) -> dict[str, Any]:
    allowed, why = found.fetcher.robots_verdict(found.proposals[0].url)
    return {"page": found.page, "entry": entry, "robots": {"allowed": allowed, "why": why},
            "proposals": [_proposal_json(p) for p in found.proposals],
            "rejected": [r.__dict__ for r in found.rejected],
            "samples": [s.to_json() for s in samples], "requested": found.requested}


def _poll_text(poll: DryPoll) -> str:
    source = poll.source
    lines = [f"source: {source.name} ({source.kind} {printable(source.url, 200)})",
             "dry poll: nothing is stored, no cache or source state is changed", "",
             "it would request:"]
    lines += [f"  {printable(url, 200)}" for url in poll.index_urls]
    lines += [f"  {printable(c.url, 200)}" + ("  (forbidden by robots.txt: not fetched)"
                                              if c.url in poll.forbidden else "") for c in poll.new]
    lines += ["", f"index: {poll.found} links; {poll.known} already stored; {len(poll.new)} new"
              + ("" if poll.store_read else " (no database yet: every link is new)")]
    if poll.skipped:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(poll.skipped.items())))
    lines += [f"problem: {printable(p)}" for p in poll.problems]
    if poll.new:
        lines += ["", "new:"]
        for item in poll.new[:20]:
            lines.append(f"  {_date(item.published):<22} {printable(item.title or item.url, 100)}")
        if len(poll.new) > 20:
            lines.append(f"  … and {len(poll.new) - 20} more")
    if poll.samples:
        lines += ["", *_sample_lines(poll.samples)]
    lines += ["", f"requests made for this test: {len(poll.requested)}"]
    return "\n".join(lines)
