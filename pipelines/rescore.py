"""Scoring against stored data: readers' labels as examples, re-scoring after a topic changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipelines.classify import Example, TopicScore, score_all
from pipelines.models import Article, Label, Match, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.db import Store
    from pipelines.topics import Topic


def examples_by_topic(session: Session) -> dict[str, list[Example]]:
    """Every reader verdict, as scoring examples per topic."""
    found: dict[str, list[Example]] = defaultdict(list)
    rows = session.execute(select(Label, Article.title, Article.text)
                           .join(Article, Label.article_id == Article.id))
    for label, title, text in rows:
        found[label.topic].append(Example(id=label.article_id, title=title or "", text=text,
                                          label=label.relevant))
    return dict(found)


def _verdict(score: TopicScore, labels: dict[str, bool]) -> bool:
    """A reader's label on this very article wins over the score."""
    return labels.get(score.topic, score.matched)


def apply_scores(session: Session, article: Article, scores: Sequence[TopicScore],
                 labels: dict[str, bool]) -> tuple[int, int]:
    """Make the article's stored matches agree with its scores; returns (added, removed).

    A match that stays keeps its `first_seen`, so re-scoring never makes an old story look new
    to the digest.
    """
    existing = {m.topic: m for m in session.scalars(select(Match).where(
        Match.article_id == article.id))}
    added = removed = 0
    for result in scores:
        current = existing.get(result.topic)
        if _verdict(result, labels):
            if current is None:
                session.add(Match(article_id=article.id, topic=result.topic, score=result.score,
                                  reasons=result.to_json()))
                added += 1
            else:
                current.score, current.reasons, current.scored_at = (
                    result.score, result.to_json(), utcnow())
        elif current is not None:
            session.delete(current)
            removed += 1
    return added, removed


@dataclass
class RescoreReport:
    articles: int = 0
    added: int = 0
    removed: int = 0


def rescore(store: Store, topics: Sequence[Topic], *, article_ids: Sequence[int] | None = None
            ) -> RescoreReport:
    """Score stored articles again with the current topics and labels."""
    report = RescoreReport()
    with store.session() as session:
        examples = examples_by_topic(session)
        labels: dict[int, dict[str, bool]] = defaultdict(dict)
        for label in session.scalars(select(Label)):
            labels[label.article_id][label.topic] = label.relevant
        query = select(Article).order_by(Article.id)
        if article_ids is not None:
            query = query.where(Article.id.in_(list(article_ids)))
        for article in session.scalars(query):
            # An article's own label must not score it; it decides it (see _verdict).
            own = {t: [e for e in ex if e.id != article.id] for t, ex in examples.items()}
            scores = score_all(article.title, article.text, article.language, topics, own)
            added, removed = apply_scores(session, article, scores, labels[article.id])
            report.articles += 1
            report.added += added
            report.removed += removed
    return report


def set_label(store: Store, article_id: int, topic: str, relevant: bool) -> None:
    with store.session() as session:
        if session.get(Article, article_id) is None:
            raise LookupError(f"no article #{article_id}; `newswatch matches` lists the ids")
        label = session.scalar(select(Label).where(Label.article_id == article_id,
                                                   Label.topic == topic))
        if label is None:
            session.add(Label(article_id=article_id, topic=topic, relevant=relevant))
        else:
            label.relevant, label.created_at = relevant, utcnow()
