"""Explain: paste a URL or text (or open a stored article's), see what cleaning keeps and how
every topic scores it, with the reasons. The same functions as `newswatch explain`; stores
nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from pipelines.output.views import explain_stored, extracted_json
from pipelines.output.web.context import http_only, web_of
from pipelines.output.web.highlight import evidence_terms, highlight, paragraphs

if TYPE_CHECKING:
    from starlette.requests import Request

    from pipelines.output.web.context import Web

MAX_TEXT = 200_000  # characters of pasted text: a long article is 20k


def explain_form(request: Request) -> Response:
    """GET: the form; with `?id=N`, a stored article explained as the topics score it now."""
    web = web_of(request)
    asked = request.query_params.get("id", "")
    if not asked:
        return web.page(request, "explain.html.j2", title="Explain", result=None, url="", text="")
    if not asked.isdigit():
        return web.refuse(request, 400, "Bad article id", f"id: {asked!r} is not an article id")
    with web.store.session() as session:
        report = explain_stored(session, int(asked), web.topics)
    if report is None:
        return web.refuse(request, 404, "No such article", f"There is no article #{asked}.")
    return web.page(request, "explain.html.j2", title="Explain", url="", text="",
                    result=_result(report, {"title": report["title"], "text": None,
                                            "language": report["language"]}, report["scores"]))


async def explain_post(request: Request) -> Response:
    """POST (a pasted text can be long, too long for a URL): clean and score, store nothing."""
    from pipelines.extraction.fetch import PageUnavailable

    web = web_of(request)
    form = await web.form(request)
    url = str(form.get("url") or "").strip()
    text = str(form.get("text") or "")[:MAX_TEXT]
    if not url and not text.strip():
        return web.refuse(request, 400, "Nothing to explain", "Paste a URL or an article's text.")
    if url and http_only(url) is None:
        # Only the web: a file path here would read the server's own files.
        return web.refuse(request, 400, "Not a web address",
                          f"url: {url!r} is not an http(s) URL; paste the article's address")
    try:
        cleaned, scores = await run_in_threadpool(explain_input, web, url, text)
    except PageUnavailable as exc:
        return web.refuse(request, 502, "Could not fetch the page", str(exc))
    return web.page(request, "explain.html.j2", title="Explain", url=url, text=text,
                    result=_result({"url": url or None}, cleaned, scores))


def explain_input(web: Web, url: str, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What `newswatch explain FILE_OR_URL` computes: the cleaned article and every topic's score."""
    from pipelines.extraction.extract import extract_article
    from pipelines.extraction.fetch import read_page
    from pipelines.scoring.scorer import score_all

    if url:
        body, final_url, content_type = read_page(url, web.config.crawl.user_agent)
        article = extract_article(body, final_url, content_type)
        cleaned = extracted_json(article)
    elif "<" in text and ("<p" in text.lower() or "<html" in text.lower()):
        cleaned = extracted_json(extract_article(text, "about:blank"))
    else:  # plain text: its first line is the title
        title, _, rest = text.strip().partition("\n")
        cleaned = {"title": title.strip(), "text": rest.strip() or title.strip(), "language": None,
                   "published": None, "author": None, "canonical_url": None}
    scores = [s.to_json() for s in score_all(cleaned["title"], cleaned["text"] or "",
                                             cleaned["language"], web.topics)]
    return cleaned, scores


def _result(head: dict[str, Any], cleaned: dict[str, Any],
            scores: list[dict[str, Any]]) -> dict[str, Any]:
    terms = evidence_terms(scores)
    return {**head, "cleaned": cleaned, "scores": [
        {**s, "reasons": sorted(s.get("reasons") or [], key=lambda r: -abs(r.get("weight", 0)))}
        for s in scores],
        "title_html": highlight(cleaned.get("title") or "", terms["title"]),
        "body": paragraphs(cleaned.get("text") or "", terms["text"]) if cleaned.get("text") else []}


ROUTES = [
    Route("/explain", explain_form),
    Route("/explain", explain_post, methods=["POST"]),
]
