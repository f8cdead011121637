"""The filters of `newswatch matches`, read from a query string: the same names, the same checks,
so the matches page, `/api/matches` and the CLI agree on what a filter means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crawler.config import parse_duration
from pipelines.storage.queries import Filters

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

DEFAULT_SINCE = "7d"  # as `matches --since`


class BadFilter(ValueError):
    """A filter that cannot be used; the message names it and the fix, as the CLI's does."""


@dataclass(frozen=True)
class MatchQuery:
    """The filters as given (to put back into links) and as the query functions take them."""

    since: str
    topic: str | None
    source: str | None
    search: str | None
    min_score: float | None
    filters: Filters


def parse_match_query(params: QueryParams, topics: list[str], sources: list[str]) -> MatchQuery:
    """The `matches` filters from `since`, `topic`, `source`, `search`, `min_score`."""
    since = params.get("since") or DEFAULT_SINCE
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise BadFilter(f"since: {exc}") from None
    topic = params.get("topic") or None
    source = params.get("source") or None
    search = params.get("search") or None
    _known(topic, topics, "topic", "topics")
    _known(source, sources, "source", "sources")
    raw_score = params.get("min_score") or params.get("min-score") or None
    try:
        min_score = float(raw_score) if raw_score is not None else None
    except ValueError:
        raise BadFilter(f"min_score: {raw_score!r} is not a number; give e.g. 0.6") from None
    filters = Filters(since=datetime.now(UTC) - window, topic=topic, source=source, search=search,
                      min_score=min_score)
    return MatchQuery(since, topic, source, search, min_score, filters)


def parse_count(params: QueryParams, name: str, default: int | None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise BadFilter(f"{name}: {value!r} is not a whole number of 0 or more")
    return int(value)


def _known(value: str | None, names: list[str], key: str, what: str) -> None:
    if value is not None and value not in names:
        raise BadFilter(f"{key}: no {what[:-1]} named {value!r} ({what}: "
                        f"{', '.join(names) or 'none configured'})")
