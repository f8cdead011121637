"""Reads of stored matches, one row per story and topic: what `matches`, `show` and the digest print."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from pipelines.storage.models import Article, Digest, DigestItem, Label, Match, Page, Source

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass
class StoryMatch:
    """A story flagged for a topic: its best-scoring article, and where else it appeared."""

    id: int  # the article id of the best-scoring appearance; `show ID` and `label ID` take it
    match_id: int
    story_id: int
    url: str  # as fetched: links never point where newswatch did not go (see identity.py)
    title: str | None
    source: str
    topic: str
    score: float
    published: datetime | None
    first_seen: datetime
    lead: str
    reasons: dict[str, Any]
    label: bool | None = None  # a reader's verdict on this article and topic, if any
    also_in: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "title": self.title, "source": self.source,
            "topic": self.topic, "score": round(self.score, 4), "published": self.published,
            "first_seen": self.first_seen, "also_in": self.also_in, "story_id": self.story_id,
            "label": None if self.label is None else ("relevant" if self.label else "irrelevant"),
        }


def lead_of(text: str, limit: int = 280) -> str:
    """The first sentences of the text, cut on a word boundary: the digest's two-line lead."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def story_matches(
    session: Session,
    *,
    since: datetime | None = None,
    topic: str | None = None,
    source: str | None = None,
    search: str | None = None,
    min_score: float | None = None,
    unsent_only: bool = False,
) -> list[StoryMatch]:
    """Stored matches folded to one row per (story, topic), best first."""
    query = (
        select(Match, Article, Source.name, Label.relevant)
        .join(Article, Match.article_id == Article.id)
        .join(Source, Article.source_id == Source.id)
        .outerjoin(Label, (Label.article_id == Match.article_id) & (Label.topic == Match.topic))
    )
    if since is not None:
        query = query.where(Match.first_seen >= since)
    if topic:
        query = query.where(Match.topic == topic)
    if min_score is not None:
        query = query.where(Match.score >= min_score)
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Article.title.ilike(pattern), Article.text.ilike(pattern)))
    if unsent_only:
        sent = (select(DigestItem.id).join(Digest, DigestItem.digest_id == Digest.id)
                .where(DigestItem.story_id == Article.story_id, DigestItem.topic == Match.topic,
                       Digest.status == "sent"))
        query = query.where(~sent.exists())
    best: dict[tuple[int, str], StoryMatch] = {}
    for match, article, source_name, label in session.execute(query):
        key = (article.story_id, match.topic)
        current = best.get(key)
        if current is not None and current.score >= match.score:
            continue
        best[key] = StoryMatch(
            id=article.id, match_id=match.id, story_id=article.story_id, url=article.url,
            title=article.title, source=source_name, topic=match.topic, score=match.score,
            published=article.published, first_seen=match.first_seen,
            lead=lead_of(article.text), reasons=match.reasons or {}, label=label,
        )
    rows = list(best.values())
    if source:
        rows = [r for r in rows if r.source == source]
    _attach_also_in(session, rows)
    rows.sort(key=lambda r: (r.topic, -r.score, r.first_seen))
    return rows


def appearances(session: Session, story_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every place each story appeared: its stored articles and the exact copies dropped."""
    ids = list(set(story_ids))
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return found
    articles = session.execute(
        select(Article.id, Article.story_id, Article.url, Article.title,
               Source.name)
        .join(Source, Article.source_id == Source.id).where(Article.story_id.in_(ids))
    ).all()
    story_of = {row.id: row.story_id for row in articles}
    for row in articles:
        found[row.story_id].append({"article_id": row.id, "source": row.name, "url": row.url,
                                    "title": row.title})
    copies = session.execute(
        select(Page.article_id, Page.url, Page.title, Source.name)
        .join(Source, Page.source_id == Source.id)
        .where(Page.article_id.in_(list(story_of)), Page.outcome == "duplicate_text")
    ).all()
    for row in copies:
        found[story_of[row.article_id]].append({"article_id": row.article_id,
                                                "source": row.name, "url": row.url,
                                                "title": row.title})
    return found


def _attach_also_in(session: Session, rows: list[StoryMatch]) -> None:
    places = appearances(session, (r.story_id for r in rows))
    for row in rows:
        seen = {row.url}
        for place in places.get(row.story_id, []):
            if place["url"] not in seen:
                seen.add(place["url"])
                row.also_in.append({"source": place["source"], "url": place["url"]})


def labels_for(session: Session, article_id: int) -> dict[str, bool]:
    return {label.topic: label.relevant for label in session.scalars(
        select(Label).where(Label.article_id == article_id))}
