"""Scoring against stored data: readers' labels as examples, re-scoring after a topic changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipelines.scoring.scorer import Example, TopicScore, score_all
from pipelines.storage.models import Article, Label, Match, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.scoring.topics import Topic
    from pipelines.storage.store import Store


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


@dataclass
class RescoreReport:
    """What a re-scoring changed: matches added and removed, and stored scores that moved."""

    articles: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0  # matches that stay, with a score that moved by at least CHANGED

    def __str__(self) -> str:
        return (f"rescored {self.articles} articles: {self.added} new matches, {self.removed} "
                f"removed, {self.changed} scores changed")


# A score that moves less than this is rounding, not a change worth reporting.
CHANGED = 0.005


def apply_scores(session: Session, article: Article, scores: Sequence[TopicScore],
                 labels: dict[str, bool], report: RescoreReport) -> None:
    """Make the article's stored matches agree with its scores, counting what changed.

    A match that stays keeps its `first_seen`, so re-scoring never makes an old story look new
    to the digest.
    """
    existing = {m.topic: m for m in session.scalars(select(Match).where(
        Match.article_id == article.id))}
    for result in scores:
        current = existing.get(result.topic)
        if _verdict(result, labels):
            if current is None:
                session.add(Match(article_id=article.id, story_id=article.story_id,
                                  topic=result.topic, score=result.score,
                                  reasons=result.to_json()))
                report.added += 1
            else:
                report.changed += abs(current.score - result.score) >= CHANGED
                current.score, current.reasons, current.scored_at = (
                    result.score, result.to_json(), utcnow())
        elif current is not None:
            session.delete(current)
            report.removed += 1


def rescore(store: Store, topics: Sequence[Topic], *, article_ids: Sequence[int] | None = None,
            scored: dict[int, list[TopicScore]] | None = None) -> RescoreReport:
    """Score stored articles again with the current topics and labels.

    `scored`, when given, receives every article's new scores (matches or not), so a caller that
    reports how scores moved (scoring/nudge.py) need not score the articles a second time.
    """
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
            apply_scores(session, article, scores, labels[article.id], report)
            if scored is not None:
                scored[article.id] = scores
            report.articles += 1
    return report


def score_stored(session: Session, article: Article, topics: Sequence[Topic]) -> list[TopicScore]:
    """How the topics score a stored article now, as `rescore` would: readers' labels on other
    articles count as examples, its own label does not (it decides, see labels_for)."""
    examples = {t: [e for e in ex if e.id != article.id]
                for t, ex in examples_by_topic(session).items()}
    return score_all(article.title, article.text, article.language, topics, examples)


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


def clear_label(store: Store, article_id: int, topic: str) -> None:
    """Forget a reader's verdict (the web view's "undo"): scoring alone decides again."""
    with store.session() as session:
        label = session.scalar(select(Label).where(Label.article_id == article_id,
                                                   Label.topic == topic))
        if label is not None:
            session.delete(label)
