"""Answering the digest: the landing page of a signed "not relevant" link, and its undo.

GET only shows what the link would do and asks to confirm: mail scanners and link previews
fetch every link in a mail, and a GET that labelled would let them judge for the reader. The
POST does it (CSRF-checked like every form), then offers undo, which puts back the verdict the
article had before (none, or the reader's earlier one). The undo form carries that earlier
verdict with a MAC, so it cannot be swapped for another. Works without logging in: the token
is the permission, for one action on one article and topic, until it expires.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from pipelines.digest.links import IRRELEVANT, BadToken, LinkAction, verify
from pipelines.output.web.pages import label_article, nudge_rows, shown_score
from pipelines.output.web.security import sign_value
from pipelines.storage.models import Article, Label

if TYPE_CHECKING:
    from starlette.requests import Request

    from pipelines.output.web.context import Web
    from pipelines.scoring.nudge import Verdict

_PREVIOUS = ("none", "relevant", "irrelevant")


def _checked(request: Request) -> tuple[Web, LinkAction] | Response:
    """The verified action of the link, or the page that refuses it and says why."""
    from pipelines.output.web.context import web_of

    web = web_of(request)
    if web.link_secret is None:
        return web.refuse(request, 503, "Digest links are off",
                          "This server has no $NEWSWATCH_WEB_SECRET, so it cannot check the link; "
                          "open the article in the web view to judge it.")
    try:
        action = verify(web.link_secret, request.path_params["token"])
    except BadToken as exc:
        return web.refuse(request, 403, "This link cannot be used", str(exc).capitalize() + ".")
    if action.action != IRRELEVANT or action.topic not in web.topic_names:
        return web.refuse(request, 403, "This link cannot be used",
                          f"It is for a topic this server does not know ({action.topic!r}).")
    return web, action


def confirm_page(request: Request) -> Response:
    checked = _checked(request)
    if isinstance(checked, Response):
        return checked
    web, action = checked
    with web.store.session() as session:
        article = session.get(Article, action.article_id)
        title = article.title if article else None
    if article is None:
        return web.refuse(request, 404, "No such article",
                          f"Article #{action.article_id} is no longer stored.")
    return web.page(request, "answer.html.j2", title="Not relevant?", state="confirm",
                    action=action, article_title=title, token=request.path_params["token"])


async def apply_link(request: Request) -> Response:
    checked = _checked(request)
    if isinstance(checked, Response):
        return checked
    web, action = checked
    await web.form(request)
    previous = await run_in_threadpool(_verdict, web, action)
    try:
        done = await run_in_threadpool(label_article, web, action.article_id, action.topic,
                                       False)
    except LookupError as exc:
        return web.refuse(request, 404, "No such article", str(exc))
    undo = f"{request.path_params['token']}:{previous}"
    return web.page(request, "answer.html.j2", title="Marked not relevant", state="done",
                    action=action, article_title=await run_in_threadpool(_article_title, web,
                                                                         action.article_id),
                    token=request.path_params["token"], previous=previous,
                    undo_mac=sign_value(web.key, undo), **_effect(done))


async def undo_link(request: Request) -> Response:
    checked = _checked(request)
    if isinstance(checked, Response):
        return checked
    web, action = checked
    form = await web.form(request)
    previous = str(form.get("previous") or "")
    mac = str(form.get("mac") or "")
    expected = sign_value(web.key, f"{request.path_params['token']}:{previous}")
    if previous not in _PREVIOUS or not hmac.compare_digest(mac, expected):
        return web.refuse(request, 403, "Undo refused",
                          "The undo form was changed; open the article to set its verdict.")
    restored = None if previous == "none" else previous == "relevant"
    done = await run_in_threadpool(label_article, web, action.article_id, action.topic, restored)
    return web.page(request, "answer.html.j2", title="Undone", state="undone", action=action,
                    article_title=await run_in_threadpool(_article_title, web, action.article_id),
                    token=request.path_params["token"], previous=previous, **_effect(done))


def _effect(done: Verdict) -> dict[str, Any]:
    """What the page says the verdict did: the article's match score, and the similar articles
    re-scored with it that moved (the same list the web view's one-click verdict shows)."""
    return {"before": shown_score(done.before), "after": shown_score(done.after),
            "nudges": nudge_rows(done.moved), "nudged_total": len(done.moved)}


def _verdict(web: Web, action: LinkAction) -> str:
    with web.store.session() as session:
        relevant = session.scalar(select(Label.relevant).where(
            Label.article_id == action.article_id, Label.topic == action.topic))
    return "none" if relevant is None else ("relevant" if relevant else "irrelevant")


def _article_title(web: Web, article_id: int) -> str | None:
    with web.store.session() as session:
        return session.scalar(select(Article.title).where(Article.id == article_id))


ROUTES = [
    Route("/d/{token:str}", confirm_page),
    Route("/d/{token:str}", apply_link, methods=["POST"]),
    Route("/d/{token:str}/undo", undo_link, methods=["POST"]),
]
