"""The reading pages: matches (filtered, paged, read and unread), one article with its evidence
marked, and judging in one click with the same code as `newswatch label`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pipelines.output.views import article_report, explain_stored
from pipelines.output.web.context import local_path, query, web_of
from pipelines.output.web.filters import BadFilter, parse_count, parse_match_query
from pipelines.output.web.highlight import evidence_terms, highlight, paragraphs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request

    from pipelines.output.web.context import Web
    from pipelines.scoring.nudge import Nudge, Verdict

PAGE_ROWS = 50  # as the CLI's table
SEEN_COOKIE = "nw_seen"  # when the reader last marked everything read (epoch seconds)
VERDICTS = ("relevant", "irrelevant")
_SAID = ("judged", "judged_id", "verdict", "before", "after")  # what the last click did
_JUDGED = (*_SAID, "nudged", "nudged_total")  # ... and the similar articles it moved
NUDGES_SHOWN = 10  # similar articles listed after a verdict; the rest are counted
_NUDGED = re.compile(r"(\d{1,12}):([01]\.\d\d):([01]\.\d\d):([01][01])")


def _seen_until(request: Request) -> datetime | None:
    value = request.cookies.get(SEEN_COOKIE, "")
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def matches_page(request: Request) -> Response:
    """One page of stories per topic, best first; unread ones are those first seen since the
    reader last pressed "mark all read" (a cookie: the database stays read-only)."""
    from pipelines.storage.queries import story_page
    from pipelines.storage.search import MIN_INDEXED, uses_index

    web = web_of(request)
    try:
        asked = parse_match_query(request.query_params, web.topic_names, web.source_names)
        page_no = max(parse_count(request.query_params, "page", 1) or 1, 1)
    except BadFilter as exc:
        return web.refuse(request, 400, "Bad filter", str(exc))
    with web.store.session() as session:
        page = story_page(session, asked.filters, limit=PAGE_ROWS, offset=(page_no - 1) * PAGE_ROWS)
        slow = bool(asked.search) and not uses_index(session, asked.search or "")
    seen = _seen_until(request)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in page.rows:
        groups.setdefault(row.topic, []).append({
            "row": row, "href": web.templates.filters["http_only"](row.url),
            "unread": seen is None or row.first_seen > seen,
        })
    keep = {"since": asked.since, "topic": asked.topic, "source": asked.source,
            "search": asked.search, "min_score": asked.min_score}
    last = max((page.total - 1) // PAGE_ROWS + 1, 1)
    return web.page(
        request, "matches.html.j2", title="Matches", groups=groups, total=page.total,
        estimated=page.estimated,
        first=(page_no - 1) * PAGE_ROWS + 1, last_row=(page_no - 1) * PAGE_ROWS + len(page.rows),
        page_no=page_no, pages=last, asked=asked, sources=web.source_names,
        prev_link=f"?{query(**keep, page=page_no - 1)}" if page_no > 1 else None,
        next_link=f"?{query(**keep, page=page_no + 1)}" if page_no < last else None,
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        judged=_judged(request, web),
        slow_search=(f"“{asked.search}” is shorter than {MIN_INDEXED} characters"
                     if asked.search and len(asked.search) < MIN_INDEXED else
                     "this database has no search index") if slow else None)


def _judged(request: Request, web: Web) -> dict[str, Any] | None:
    """What the reader's last click did, from the redirect's query (shown once, escaped)."""
    said: dict[str, Any] = {k: request.query_params.get(k, "") for k in _SAID}
    if said["judged"] not in web.topic_names or said["verdict"] not in VERDICTS:
        return None
    said["nudges"], said["nudged_total"] = _nudges_said(request, web)
    return said


async def mark_read(request: Request) -> Response:
    web = web_of(request)
    form = await web.form(request)
    response = RedirectResponse(local_path(form.get("next"), "/matches"), status_code=303)
    response.set_cookie(SEEN_COOKIE, str(int(datetime.now(UTC).timestamp())), max_age=400 * 86400,
                        httponly=True, samesite="strict")
    return response


def article_page(request: Request) -> Response:
    web = web_of(request)
    article_id = request.path_params["article_id"]
    with web.store.session() as session:
        report = article_report(session, article_id)
        scored = explain_stored(session, article_id, web.topics) if report else None
    if report is None or scored is None:
        return web.refuse(request, 404, "No such article",
                          f"There is no article #{article_id}; the matches page lists them.")
    terms = evidence_terms(report["matches"] or scored["scores"])
    matched = {m["topic"]: m for m in report["matches"]}
    topics = [{"topic": s["topic"], "score": s["score"], "threshold": s.get("threshold"),
               "match": matched.get(s["topic"]), "label": report["labels"].get(s["topic"]),
               "reasons": sorted((matched.get(s["topic"]) or s).get("reasons") or [],
                                 key=lambda r: -abs(r.get("weight", 0)))}
              for s in scored["scores"]]
    judged = request.query_params.get("judged")
    nudges, nudged_total = _nudges_said(request, web) if judged else ([], 0)
    return web.page(
        request, "article.html.j2", title=report["title"] or f"Article #{article_id}",
        report=report, topic_rows=topics, title_html=highlight(report["title"] or "", terms["title"]),
        body=paragraphs(report["text"] or "", terms["text"]),
        href=web.templates.filters["http_only"](report["url"]),
        here=f"/articles/{article_id}",
        judged=judged if judged in web.topic_names else None,
        before=request.query_params.get("before"), after=request.query_params.get("after"),
        nudges=nudges, nudged_total=nudged_total)


async def judge(request: Request) -> Response:
    """POST: a reader's verdict, recorded and applied as `newswatch label` does."""
    web = web_of(request)
    form = await web.form(request)
    article_id = request.path_params["article_id"]
    topic, verdict = form.get("topic"), form.get("verdict")
    if topic not in web.topic_names or verdict not in VERDICTS:
        return web.refuse(request, 400, "Bad verdict",
                          f"topic must be one of {', '.join(web.topic_names)}, verdict relevant or "
                          "irrelevant")
    try:
        done = await run_in_threadpool(label_article, web, article_id, str(topic),
                                       verdict == "relevant")
    except LookupError as exc:
        return web.refuse(request, 404, "No such article", str(exc))
    back = local_path(form.get("next"), f"/articles/{article_id}")
    path, _, old = back.partition("?")
    # Back where the reader clicked, saying what changed (a previous verdict's note replaced).
    kept = [(k, v) for k, v in parse_qsl(old) if k not in _JUDGED]
    said = [("judged", topic), ("judged_id", article_id), ("verdict", verdict),
            ("before", shown_score(done.before)), ("after", shown_score(done.after)),
            *_nudge_query(done)]
    return RedirectResponse(f"{path}?{urlencode(kept + said)}", status_code=303)


def label_article(web: Web, article_id: int, topic: str, relevant: bool | None) -> Verdict:
    """`newswatch label`'s code: record (or with None, forget) the verdict, then score the
    article and the stored articles similar to it again for that topic (scoring/nudge.py)."""
    from pipelines.scoring.nudge import judge as judge_verdict

    return judge_verdict(web.store, web.topics, article_id, topic, relevant,
                         days=web.config.dedupe.window_days)


def shown_score(value: float | None) -> str:
    """A match score as the pages show it; "none" when the article is no match."""
    return "none" if value is None else f"{value:.2f}"


def nudge_rows(nudges: Sequence[Nudge]) -> list[dict[str, Any]]:
    """The moved similar articles as the templates list them (at most NUDGES_SHOWN)."""
    return [{"id": n.article_id, "title": n.title, "before": f"{n.before:.2f}",
             "after": f"{n.after:.2f}", "change": n.change} for n in nudges[:NUDGES_SHOWN]]


def _nudge_query(verdict: Verdict) -> list[tuple[str, str]]:
    """The moved neighbours for the redirect after a click: ids and scores only, titles are read
    again when the page is shown, so the query stays short."""
    moved = verdict.moved
    said = [("nudged", f"{n.article_id}:{n.before:.2f}:{n.after:.2f}:{int(n.was_match)}"
                       f"{int(n.is_match)}") for n in moved[:NUDGES_SHOWN]]
    return [*said, ("nudged_total", str(len(moved)))]


def _nudges_said(request: Request, web: Web) -> tuple[list[dict[str, Any]], int]:
    """The moved neighbours the redirect carries, checked (anything malformed is dropped), with
    their titles from the store; and how many moved in all."""
    from sqlalchemy import select

    from pipelines.storage.models import Article

    parsed = []
    for value in request.query_params.getlist("nudged")[:NUDGES_SHOWN]:
        found = _NUDGED.fullmatch(value)
        if found:
            parsed.append(found.groups())
    total = request.query_params.get("nudged_total", "")
    ids = [int(p[0]) for p in parsed]
    with web.store.session() as session:
        rows = session.execute(select(Article.id, Article.title).where(Article.id.in_(ids)))
        titles = {article_id: title for article_id, title in rows}
    changes = {"01": "now a match", "10": "no longer a match"}
    rows = [{"id": int(i), "title": titles.get(int(i)), "before": b, "after": a,
             "change": changes.get(flags)} for i, b, a, flags in parsed]
    return rows, int(total) if total.isdigit() else len(rows)


ROUTES = [
    Route("/matches", matches_page),
    Route("/matches/read", mark_read, methods=["POST"]),
    Route("/articles/{article_id:int}", article_page),
    Route("/articles/{article_id:int}/label", judge, methods=["POST"]),
]
