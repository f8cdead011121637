"""A reader's verdict and what it moves: the judged article and, at once, the stored articles like it.

A label decides its own article and becomes an example that scoring uses for similar ones
(scorer.py, `_example_reasons`). Without this module those similar stored articles kept their old
scores until the next `newswatch rescore`, so the reader never saw the nudge. `judge` records the
verdict (or forgets it: the web view's undo), picks the recent stored articles that scoring itself
finds similar enough to the judged one for that topic, re-scores exactly those with `rescore`, and
says how each moved. `newswatch label`, the web view's one-click verdict and the digest-link verdict
and its undo all call it, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pipelines.scoring.rescore import CHANGED, clear_label, examples_by_topic, rescore, set_label
from pipelines.scoring.scorer import Example, example_pull, example_similarity, score
from pipelines.storage.models import Article, Label, Match, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.scoring.scorer import TopicScore
    from pipelines.scoring.topics import Topic
    from pipelines.storage.store import Store

# Candidates are the most recent stored articles: old ones have left the digest and the matches a
# reader looks at, and reading every stored article would make a click take seconds at 100k.
DEFAULT_DAYS = 30
MAX_CANDIDATES = 300
MAX_NUDGED = 40


@dataclass(frozen=True)
class Nudge:
    """One similar stored article re-scored after a verdict: its score for the topic before and
    after, and whether it was and is a match."""

    article_id: int
    title: str | None
    topic: str
    similarity: float
    before: float
    after: float
    was_match: bool
    is_match: bool

    @property
    def moved(self) -> bool:
        """Whether the reader should hear about it: a score that moved more than rounding, or a
        match gained or lost."""
        return abs(self.after - self.before) >= CHANGED or self.was_match != self.is_match

    @property
    def change(self) -> str | None:
        if self.is_match and not self.was_match:
            return "now a match"
        if self.was_match and not self.is_match:
            return "no longer a match"
        return None

    def __str__(self) -> str:
        change = f" ({self.change})" if self.change else ""
        return f"#{self.article_id} {self.before:.2f} → {self.after:.2f}{change}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.article_id, "title": self.title, "topic": self.topic,
                "similarity": round(self.similarity, 4), "before": round(self.before, 4),
                "after": round(self.after, 4), "was_match": self.was_match,
                "is_match": self.is_match, "change": self.change}


@dataclass
class Verdict:
    """What one verdict did: the judged article's match score before and after (None: no match),
    and every similar article re-scored with it (`moved` are the ones worth showing)."""

    article_id: int
    topic: str
    label: bool | None
    before: float | None
    after: float | None
    nudges: list[Nudge] = field(default_factory=list)

    @property
    def moved(self) -> list[Nudge]:
        return [n for n in self.nudges if n.moved]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.article_id, "topic": self.topic,
                "label": None if self.label is None else ("relevant" if self.label else "irrelevant"),
                "before": self.before, "after": self.after, "similar": len(self.nudges),
                "nudged": [n.to_json() for n in self.moved]}


@dataclass(frozen=True)
class _Neighbour:
    id: int
    title: str | None
    text: str
    language: str | None
    similarity: float


def similar_stored(session: Session, topic: Topic, article: Article, *, days: int = DEFAULT_DAYS,
                   limit: int = MAX_CANDIDATES, most: int = MAX_NUDGED) -> list[_Neighbour]:
    """The recent stored articles scoring treats as similar to `article` for `topic`: those whose
    similarity reaches the topic's `example_similarity`, as `_example_reasons` measures it.

    Candidates, at most `limit`: the article's own story (its copies), then the newest articles
    first fetched in the last `days`. Neither depends on labels or matches, so an undo finds the
    same ones. Measuring similarity means finding each candidate's evidence, several milliseconds
    an article, which is what bounds them; only the `most` most similar are returned, since each
    costs two scorings against every example.
    """
    example = Example(article.id, article.title or "", article.text, True)  # the label is not used
    since = utcnow() - timedelta(days=days)
    story = select(Article.id).where(Article.story_id == article.story_id).limit(limit)
    newest = (select(Article.id).where(Article.fetched_at >= since)
              .order_by(Article.fetched_at.desc()).limit(limit))
    ids: dict[int, None] = {}
    for query in (story, newest):
        ids.update(dict.fromkeys(session.scalars(query)))
    ids.pop(article.id, None)
    chosen = list(ids)[:limit]
    rows = session.execute(select(Article.id, Article.title, Article.text, Article.language)
                           .where(Article.id.in_(chosen)))
    found = []
    for article_id, title, text, language in rows:
        similarity = example_similarity(title, text, language, topic, example)
        if similarity >= topic.config.example_similarity:
            found.append(_Neighbour(article_id, title, text, language, similarity))
    found.sort(key=lambda n: (-n.similarity, n.id))
    return found[:most]


def _scores(session: Session, topic: Topic, neighbours: Sequence[_Neighbour]) -> dict[int, float]:
    """Each neighbour's score as `rescore` makes it now: others' labels count, its own does not."""
    examples = examples_by_topic(session).get(topic.name, [])
    return {n.id: score(n.title, n.text, n.language, topic,
                        [e for e in examples if e.id != n.id]).score for n in neighbours}


def _labels(session: Session, topic: str, ids: Sequence[int]) -> dict[int, bool]:
    rows = session.execute(select(Label.article_id, Label.relevant).where(
        Label.topic == topic, Label.article_id.in_(list(ids))))
    return {article_id: relevant for article_id, relevant in rows}


def _match_score(session: Session, topic: str, article_id: int) -> float | None:
    return session.scalar(select(Match.score).where(Match.topic == topic,
                                                    Match.article_id == article_id))


def _moves(topic: Topic, article: Article, old: bool | None, new: bool | None) -> bool:
    """Whether going from the `old` verdict to the `new` one can move any similar article: not
    when both pull alike (the same verdict, or examples whose terms already agreed with them)."""
    if not topic.config.example_weight or old == new:
        return False

    def pull(label: bool | None) -> float:
        return 0.0 if label is None else example_pull(
            Example(article.id, article.title or "", article.text, label), topic)

    return pull(old) != pull(new)


def judge(store: Store, topics: Sequence[Topic], article_id: int, topic: str,
          relevant: bool | None, *, days: int = DEFAULT_DAYS, limit: int = MAX_CANDIDATES
          ) -> Verdict:
    """Record a reader's verdict (None forgets it), then re-score the article and the stored
    articles similar to it for that topic, at once. Raises LookupError for an unknown article.

    The neighbours are chosen by similarity alone, which does not depend on the verdict, so an
    undo re-scores the same articles back. Whether a neighbour was and is a match is said from
    its scores (and its own label), so a match that was stale before the click is not reported
    as the verdict's doing.
    """
    chosen = next((t for t in topics if t.name == topic), None)
    if chosen is None:
        raise ValueError(f"no topic {topic!r}")
    with store.session() as session:
        article = session.get(Article, article_id)
        if article is None:
            raise LookupError(f"no article #{article_id}; `newswatch matches` lists the ids")
        old = _labels(session, topic, [article_id]).get(article_id)
        neighbours = (similar_stored(session, chosen, article, days=days, limit=limit)
                      if _moves(chosen, article, old, relevant) else [])
        before = _scores(session, chosen, neighbours)
        was = _match_score(session, topic, article_id)
    if relevant is None:
        clear_label(store, article_id, topic)
    else:
        set_label(store, article_id, topic, relevant)
    scored: dict[int, list[TopicScore]] = {}
    rescore(store, [chosen], article_ids=[article_id, *(n.id for n in neighbours)], scored=scored)
    after = {n.id: scored[n.id][0].score for n in neighbours}
    with store.session() as session:
        own = _labels(session, topic, [n.id for n in neighbours])
        now = _match_score(session, topic, article_id)

    def matched(article_id: int, value: float) -> bool:
        return own.get(article_id, value >= chosen.threshold)

    nudges = [Nudge(n.id, n.title, topic, n.similarity, before[n.id], after[n.id],
                    matched(n.id, before[n.id]), matched(n.id, after[n.id])) for n in neighbours]
    nudges.sort(key=lambda n: (-abs(n.after - n.before), -n.similarity))
    return Verdict(article_id, topic, relevant, was, now, nudges)
