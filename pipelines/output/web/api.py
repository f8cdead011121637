"""The JSON API and the Atom feeds: the same rows as the CLI's `--format json`, written by the
same functions (`StoryMatch.to_json`, `report.stream`, `article_report`, `source_rows`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pipelines.output.report import render, stream
from pipelines.output.views import article_report
from pipelines.output.web.archive import known_source_rows
from pipelines.output.web.context import http_only, web_of
from pipelines.output.web.filters import BadFilter, parse_count, parse_match_query

if TYPE_CHECKING:
    from starlette.requests import Request

    from pipelines.output.web.context import Web
    from pipelines.storage.queries import Filters

JSON = "application/json; charset=utf-8"
SOURCE_COLUMNS = ["name", "articles", "last_run", "last_status", "failures", "health", "last_error",
                  "why", "kind", "url"]
FEED_DAYS = 30
FEED_ENTRIES = 100


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def api_matches(request: Request) -> Response:
    """`matches --format json` with the filters as query parameters, streamed row by row."""
    from pipelines.output.commands import MATCH_CSV

    web = web_of(request)
    try:
        asked = parse_match_query(request.query_params, web.topic_names, web.source_names)
        limit = parse_count(request.query_params, "limit", None)
        offset = parse_count(request.query_params, "offset", 0) or 0
    except BadFilter as exc:
        return _error(400, str(exc))
    return StreamingResponse(_match_chunks(web, asked.filters, limit or None, offset, MATCH_CSV),
                             media_type=JSON)


def _match_chunks(web: Web, filters: Filters, limit: int | None, offset: int,
                  columns: list[str]) -> Iterator[str]:
    from pipelines.storage.queries import iter_story_matches

    with web.store.session() as session:
        rows = (row.to_json() for row in iter_story_matches(session, filters, limit=limit,
                                                            offset=offset))
        yield from stream(rows, "json", columns)
    yield "\n"


def api_article(request: Request) -> Response:
    """`show ID --format json`."""
    web = web_of(request)
    article_id = request.path_params["article_id"]
    with web.store.session() as session:
        report = article_report(session, article_id)
    if report is None:
        return _error(404, f"no article #{article_id}; /api/matches lists the ids")
    return Response(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n",
                    media_type=JSON)


def api_sources(request: Request) -> Response:
    """`sources --format json`."""
    rows = known_source_rows(web_of(request))
    return Response(render(rows, "json", SOURCE_COLUMNS) + "\n", media_type=JSON)


def topic_feed(request: Request) -> Response:
    """An Atom feed of a topic's matched stories of the last FEED_DAYS days, newest first."""
    from pipelines.storage.queries import Filters, story_page

    web = web_of(request)
    name = request.path_params["name"]
    if name not in web.topic_names:
        return Response(f"no topic named {name!r} (topics: {', '.join(web.topic_names)})\n",
                        status_code=404, media_type="text/plain; charset=utf-8")
    with web.store.session() as session:
        page = story_page(session, Filters(topic=name, since=datetime.now(UTC) - timedelta(
            days=FEED_DAYS)), limit=FEED_ENTRIES)
    rows = sorted(page.rows, key=lambda r: r.first_seen, reverse=True)
    base = (web.config.web.base_url if web.config.web and web.config.web.base_url
            else str(request.base_url).rstrip("/"))
    entries: list[dict[str, Any]] = [{
        "row": row, "href": http_only(row.url), "page": f"{base}/articles/{row.id}",
        "updated": row.first_seen.isoformat(timespec="seconds")} for row in rows]
    updated = max((r.first_seen for r in rows), default=datetime.now(UTC))
    xml = web.templates.get_template("topic.atom.j2").render(
        topic=name, base=base, entries=entries, updated=updated.isoformat(timespec="seconds"))
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


ROUTES = [
    Route("/api/matches", api_matches),
    Route("/api/articles/{article_id:int}", api_article),
    Route("/api/sources", api_sources),
    Route("/topics/{name:str}.atom", topic_feed),
]
