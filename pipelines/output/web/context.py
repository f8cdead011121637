"""What every route of the web view shares: the config, the store, the topics, the keys, the
templates, and the helpers that turn a template or a refusal into a response."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse

from pipelines.output.web.security import CSRF_COOKIE, CSRF_FIELD, csrf_ok, csrf_token

if TYPE_CHECKING:
    from starlette.requests import Request

    from crawler.config import Config
    from pipelines.scoring.topics import Topic
    from pipelines.storage.store import Store

TEMPLATES = Path(__file__).with_name("templates")


def _environment() -> Environment:
    # Autoescape on for every template, whatever its name: each value may come from the web.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["score"] = lambda value: "" if value is None else f"{value:.2f}"
    env.filters["http_only"] = http_only
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def http_only(url: Any) -> str | None:
    """A URL only when it is http(s): a stored `javascript:` URL is never a link."""
    text = str(url or "").strip()
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass
class Web:
    """The web view's state, built once per server (app.state.web); nothing module-global."""

    config: Config
    store: Store
    topics: list[Topic]
    link_secret: bytes | None
    # Signs CSRF tokens and undo values: the link secret when there is one, else random per
    # process (a restart then asks open forms to be sent again, which is harmless).
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    templates: Environment = field(default_factory=_environment)

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.topics]

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.config.sources]

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A template rendered with what every page needs (the CSRF field, the nav)."""
        cookie = request.state.csrf_cookie
        html = self.templates.get_template(template).render(
            request=request, csrf_field=CSRF_FIELD, csrf=csrf_token(self.key, cookie),
            topics=self.topic_names, **values)
        return HTMLResponse(html, status_code=status)

    def refuse(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        """A page that says what was refused and why, in words."""
        return self.page(request, "refused.html.j2", status=status, title=title, message=message)

    async def form(self, request: Request) -> FormData:
        """The POSTed form, once its CSRF token is checked (403 otherwise)."""
        form = await request.form()
        given = form.get(CSRF_FIELD)
        if not csrf_ok(self.key, request.cookies.get(CSRF_COOKIE),
                       given if isinstance(given, str) else None):
            raise HTTPException(403, "CSRF check failed: reload the page and send the form again")
        return form


def web_of(request: Request) -> Web:
    return request.app.state.web


def local_path(value: Any, default: str) -> str:
    """A redirect target from a form: only a path on this site, never another site."""
    text = str(value or "")
    parts = urlsplit(text)
    if not text.startswith("/") or text.startswith("//") or parts.scheme or parts.netloc:
        return default
    return text


def query(**values: Any) -> str:
    """A query string of the values that are set (for pagination and filter links)."""
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})
