"""How a topic does on the stored articles: what it (or a draft) would match, and what readers say.

`trial` is `newswatch topics test`: every stored article since a date scored by the topic as it
would be now (readers' labels on other articles count as examples, as in `rescore`), counted
per source, with the ones near the threshold called out; nothing is written. `quality` is
`newswatch topics`: matches per day and how readers' labels compare with the topic's own verdict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from pipelines.scoring.rescore import examples_by_topic
from pipelines.scoring.scorer import score
from pipelines.storage.models import Article, Label, Match, Source

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from pipelines.scoring.topics import Topic

# A score this close to the threshold (either side) is "borderline": a small change to the query,
# the threshold or a label would flip it.
BORDERLINE = 0.15
# Readers "keep overruling" a topic when at least this many labels, and this share of them, disagree
# with what its terms say.
OVERRULED_MIN = 3
OVERRULED_SHARE = 0.3
_READ_BATCH = 500


@dataclass
class TrialRow:
    """One stored article as the topic scores it now."""

    id: int
    source: str
    title: str | None
    url: str
    published: datetime | None
    fetched: datetime
    score: float
    threshold: float
    matched: bool
    label: bool | None
    reasons: list[str]

    @property
    def borderline(self) -> bool:
        return abs(self.score - self.threshold) < BORDERLINE

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "title": self.title, "url": self.url,
                "published": self.published, "fetched": self.fetched, "score": round(self.score, 4),
                "threshold": self.threshold, "matched": self.matched, "borderline": self.borderline,
                "label": None if self.label is None else ("relevant" if self.label else "irrelevant"),
                "reasons": self.reasons}


@dataclass
class Trial:
    """What a topic would have matched: rows for the matches and the borderline misses."""

    topic: str
    articles: int = 0
    rows: list[TrialRow] = field(default_factory=list)
    per_source: Counter[str] = field(default_factory=Counter)

    @property
    def matched(self) -> int:
        return sum(self.per_source.values())

    @property
    def borderline(self) -> int:
        return sum(1 for row in self.rows if row.borderline)


def trial(session: Session, topic: Topic, since: datetime) -> Trial:
    """Score every article fetched since `since` against `topic`; keep matches and near misses.

    Read in batches by id, so a month of a thousand sources never sits in memory at once.
    """
    examples = examples_by_topic(session).get(topic.name, [])
    labels = {row.article_id: row.relevant for row in session.scalars(
        select(Label).where(Label.topic == topic.name))}
    names = dict(session.execute(select(Source.id, Source.name)).all())
    result = Trial(topic.name)
    last = 0
    while True:
        batch = session.scalars(select(Article).where(Article.fetched_at >= since, Article.id > last)
                                .order_by(Article.id).limit(_READ_BATCH)).all()
        if not batch:
            break
        for article in batch:
            last = article.id
            result.articles += 1
            own = [e for e in examples if e.id != article.id]
            scored = score(article.title, article.text, article.language, topic, own)
            label = labels.get(article.id)
            matched = label if label is not None else scored.matched
            row = TrialRow(article.id, names.get(article.source_id, "?"), article.title, article.url,
                           article.published, article.fetched_at, scored.score, topic.threshold,
                           matched, label, _top_reasons(scored.reasons))
            if matched:
                result.per_source[row.source] += 1
            if matched or row.borderline:
                result.rows.append(row)
        session.expunge_all()  # read only: the articles read so far need not stay in the session
    result.rows.sort(key=lambda row: -row.score)
    return result


def _top_reasons(reasons: Sequence[Any], count: int = 3) -> list[str]:
    shown = [r for r in reasons if r.weight > 0][:count]
    return [f"{r.evidence} ({r.feature}, {r.where})" for r in shown]


@dataclass
class Quality:
    """A topic's record: matches stored in the window, and readers' labels against its terms."""

    topic: str
    kind: str
    threshold: float
    matches: int
    days: float
    labels: int = 0
    agreed: int = 0
    overruled: int = 0

    @property
    def per_day(self) -> float:
        return self.matches / self.days if self.days else 0.0

    @property
    def warning(self) -> str | None:
        if self.overruled >= OVERRULED_MIN and self.overruled >= OVERRULED_SHARE * self.labels:
            return (f"readers overruled {self.overruled} of {self.labels} labels: adjust its terms, "
                    f"query or threshold, and check with `newswatch topics test {self.topic}`")
        return None

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "kind": self.kind, "threshold": self.threshold,
                "matches": self.matches, "per_day": round(self.per_day, 2), "labels": self.labels,
                "agreed": self.agreed, "overruled": self.overruled, "warning": self.warning}


def quality(session: Session, topics: Sequence[Topic], since: datetime, days: float) -> list[Quality]:
    """One record per topic. A label agrees when the topic's score, with that label left out, was
    already on the reader's side; it overrules when the reader had to correct it."""
    counts = dict(session.execute(select(Match.topic, func.count()).where(Match.first_seen >= since)
                                  .group_by(Match.topic)).all())
    examples = examples_by_topic(session)
    by_topic: dict[str, list[Label]] = defaultdict(list)
    for label in session.scalars(select(Label)):
        by_topic[label.topic].append(label)
    records = []
    for topic in topics:
        kind = "query" if topic.query and not (set(topic.config.terms) - _query_groups(topic)) else (
            "query + terms" if topic.query else "terms")
        record = Quality(topic.name, kind, topic.threshold, counts.get(topic.name, 0), days)
        for label in by_topic.get(topic.name, []):
            article = session.get(Article, label.article_id)
            if article is None:
                continue
            others = [e for e in examples.get(topic.name, []) if e.id != article.id]
            verdict = score(article.title, article.text, article.language, topic, others).matched
            record.labels += 1
            if verdict == label.relevant:
                record.agreed += 1
            else:
                record.overruled += 1
        records.append(record)
    return records


def _query_groups(topic: Topic) -> set[str]:
    from pipelines.scoring.query_groups import QUERY_GROUP

    return {name for name in topic.config.terms if name == QUERY_GROUP or name.startswith(
        f"{QUERY_GROUP}-")}
