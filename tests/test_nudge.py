"""A verdict nudges the stored articles like it at once (pipelines/scoring/nudge.py): real store,
real scorer, the articles of tests/test_classify.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crawler.config import parse_config
from pipelines.scoring.nudge import judge
from pipelines.scoring.scorer import score_all
from pipelines.scoring.topics import Topic, resolve_topics
from pipelines.storage.models import Match
from pipelines.storage.store import Store
from tests.test_classify import (
    BORDERLINE,
    CAR_TEXT,
    CAR_TITLE,
    IMPLIED_AI,
    IMPLIED_AI_LABELED,
    LABELED_LIKE_IT,
)

TOPIC = "ai-research-policy"
_serial = itertools.count(1)


@pytest.fixture
def topics() -> list[Topic]:
    return resolve_topics()


@pytest.fixture
def store(migrated_url: str) -> Iterator[Store]:
    store = Store.open(migrated_url)
    store.sync_sources(parse_config({"sources": [{"name": "etnews",
                                                  "feed": "https://etnews.example/rss"}]}).sources)
    yield store
    store.engine.dispose()


def put(store: Store, topics: list[Topic], article: tuple[str, str]) -> int:
    """Store an article with the scores the crawl would give it; returns its id."""
    n = next(_serial)
    title, text = article
    url = f"https://etnews.example/news/{n}"
    stored = store.add_article(
        {"source_id": store.source_id("etnews"), "url": url, "canonical_url": url, "title": title,
         "text": text, "fingerprint": f"fp-{n}", "language": "ko",
         "published": datetime.now(UTC) - timedelta(hours=1)},
        scores=[s for s in score_all(title, text, "ko", topics) if s.matched])
    assert stored is not None
    return stored.article_id


def match_score(store: Store, article_id: int) -> float | None:
    with store.session() as session:
        return session.scalar(select(Match.score).where(Match.article_id == article_id,
                                                        Match.topic == TOPIC))


def test_an_irrelevant_verdict_lowers_the_similar_article_and_reports_it(
        store: Store, topics: list[Topic]) -> None:
    borderline = put(store, topics, BORDERLINE)
    judged = put(store, topics, LABELED_LIKE_IT)
    car = put(store, topics, (CAR_TITLE, CAR_TEXT))
    car_before = match_score(store, car)
    done = judge(store, topics, judged, TOPIC, False)
    (nudge,) = [n for n in done.moved if n.article_id == borderline]
    assert nudge.after < nudge.before and nudge.title == BORDERLINE[0]
    assert car not in [n.article_id for n in done.nudges], "an unrelated article is not similar"
    assert match_score(store, car) == car_before
    assert done.after is None, "its own label decides the judged article"
    stored = match_score(store, borderline)
    if nudge.after < topics[0].threshold:
        assert stored is None and not nudge.is_match, "under the threshold: no longer a match"
    else:
        assert stored == pytest.approx(nudge.after)
    assert str(nudge).startswith(f"#{borderline} {nudge.before:.2f} → {nudge.after:.2f}")


def test_a_relevant_verdict_raises_the_similar_article_and_undo_puts_it_back(
        store: Store, topics: list[Topic]) -> None:
    implied = put(store, topics, IMPLIED_AI)
    judged = put(store, topics, IMPLIED_AI_LABELED)
    car = put(store, topics, (CAR_TITLE, CAR_TEXT))
    done = judge(store, topics, judged, TOPIC, True)
    (nudge,) = [n for n in done.moved if n.article_id == implied]
    assert nudge.after > nudge.before
    assert car not in [n.article_id for n in done.nudges]
    assert done.to_json()["nudged"][0]["id"] == implied
    undone = judge(store, topics, judged, TOPIC, None)
    (back,) = [n for n in undone.moved if n.article_id == implied]
    assert back.before == pytest.approx(nudge.after)
    assert back.after == pytest.approx(nudge.before)
    assert [n.article_id for n in undone.nudges] == [n.article_id for n in done.nudges], \
        "undo re-scores the same neighbours"


def test_repeating_a_verdict_moves_nothing(store: Store, topics: list[Topic]) -> None:
    put(store, topics, BORDERLINE)
    judged = put(store, topics, LABELED_LIKE_IT)
    judge(store, topics, judged, TOPIC, False)
    assert judge(store, topics, judged, TOPIC, False).moved == []


def test_an_unknown_article_is_refused(store: Store, topics: list[Topic]) -> None:
    with pytest.raises(LookupError, match="no article #999"):
        judge(store, topics, 999, TOPIC, True)
