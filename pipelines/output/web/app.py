"""The web view as an ASGI app: the routes of each page module, the stylesheet, the guard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipelines.output.web import answer, api, archive, explain, pages
from pipelines.output.web.context import Web
from pipelines.output.web.security import Guard

if TYPE_CHECKING:
    from starlette.requests import Request

    from crawler.config import Config
    from pipelines.storage.store import Store

STATIC = Path(__file__).with_name("static")
MAX_BODY = 1_000_000  # bytes of a POST: a pasted article, never an upload


def build_app(config: Config, store: Store, *, link_secret: bytes | None,
              password: str | None) -> Starlette:
    """The app for this config and store. `link_secret` checks the digest's signed links (and
    signs the forms); `password` turns on HTTP Basic for everything but those links."""
    from pipelines.scoring.topics import resolve_topics

    web = Web(config=config, store=store, topics=resolve_topics(config.topics or None),
              link_secret=link_secret)
    if link_secret:
        web.key = link_secret
    routes = [Route("/", lambda request: RedirectResponse("/matches", status_code=303)),
              *pages.ROUTES, *archive.ROUTES, *explain.ROUTES, *api.ROUTES, *answer.ROUTES,
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, password=password)],
                    exception_handlers={HTTPException: _http_error}, max_body_size=MAX_BODY)
    app.state.web = web
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404, 405, a failed CSRF check) as a page that says why."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "") or "refused"
    web: Web = request.app.state.web
    if request.url.path.startswith("/api/"):
        from starlette.responses import JSONResponse

        return JSONResponse({"error": detail}, status_code=status)
    if not hasattr(request.state, "csrf_cookie"):
        return Response(detail, status_code=status, media_type="text/plain; charset=utf-8")
    return web.refuse(request, status, "Refused" if status == 403 else "Not here", detail)
