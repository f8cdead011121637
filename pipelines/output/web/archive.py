"""The pages about the crawl and the mail: sources' health, and the archive of sent digests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import undefer
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipelines.output.web.chart import chart, daily_counts
from pipelines.output.web.context import web_of
from pipelines.output.web.security import MAIL_CSP
from pipelines.storage.models import Digest, DigestItem

if TYPE_CHECKING:
    from starlette.requests import Request

    from pipelines.output.web.context import Web


def known_source_rows(web: Web) -> list[dict[str, Any]]:
    """`newswatch sources`' rows for the configured sources the database knows.

    The CLI adds configured sources to the database first; the web view only reads, so a source
    configured since the last crawl is left out until a crawl or the daemon records it.
    """
    from pipelines.storage.health import source_rows

    known = {row.name for row in web.store.sources()}
    config = web.config.model_copy(update={"sources": [s for s in web.config.sources
                                                       if s.name in known]})
    config.base_dir = web.config.base_dir
    return source_rows(web.store, config)


def sources_page(request: Request) -> Response:
    web = web_of(request)
    rows = known_source_rows(web)
    ids = {row.name: row.id for row in web.store.sources()}
    with web.store.session() as session:
        counts = daily_counts(session)
    for row in rows:
        row["chart"] = chart(counts.get(ids[row["name"]], {}))
        row["interval_text"] = _interval(row["interval"])
    return web.page(request, "sources.html.j2", title="Sources", rows=rows)


def _interval(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{max(seconds // 60, 1)}m"


def digests_page(request: Request) -> Response:
    web = web_of(request)
    with web.store.session() as session:
        items = dict(session.execute(select(DigestItem.digest_id, func.count())
                                     .group_by(DigestItem.digest_id)).all())
        digests = [{"digest": d, "items": items.get(d.id, 0)} for d in session.scalars(
            select(Digest).order_by(Digest.id.desc()).limit(365))]
    return web.page(request, "digests.html.j2", title="Digests", digests=digests)


def digest_page(request: Request) -> Response:
    web = web_of(request)
    digest_id = request.path_params["digest_id"]
    with web.store.session() as session:
        digest = session.get(Digest, digest_id)
        stored = digest is not None and bool(session.scalar(
            select(Digest.html.is_not(None)).where(Digest.id == digest_id)))
    if digest is None:
        return web.refuse(request, 404, "No such digest", f"There is no digest #{digest_id}.")
    return web.page(request, "digest.html.j2", title=digest.subject or f"Digest #{digest_id}",
                    digest=digest, stored=stored)


def _body(web: Web, digest_id: int) -> tuple[str, str] | None:
    """The digest's HTML and text as mailed; one sent before they were kept is rendered again."""
    from pipelines.digest.daily import _content

    with web.store.session() as session:
        digest = session.scalar(select(Digest).where(Digest.id == digest_id)
                                .options(undefer(Digest.html), undefer(Digest.text)))
        if digest is None:
            return None
        if digest.html is not None:
            return digest.html, digest.text or ""
        content = _content(session, digest, web.config.digest, ())
        return content.html, content.text


def digest_mail(request: Request) -> Response:
    """The mailed HTML, in its own sandboxed frame: its inline styles allowed, no script."""
    web = web_of(request)
    body = _body(web, request.path_params["digest_id"])
    if body is None or request.path_params["part"] not in ("html", "txt"):
        return PlainTextResponse("no such digest", status_code=404)
    if request.path_params["part"] == "txt":
        return PlainTextResponse(body[1])
    return HTMLResponse(body[0], headers={"content-security-policy": MAIL_CSP})


ROUTES = [
    Route("/sources", sources_page),
    Route("/digests", digests_page),
    Route("/digests/{digest_id:int}", digest_page),
    Route("/digests/{digest_id:int}/mail.{part:str}", digest_mail),
]
