"""A stored year of news for the reading benchmark: articles, stories, matches, pages, digests.

Bulk Core inserts at schema 0003 (before the search index), in id order as a crawl stores them,
so that `reading.py` can time migration 0004 building the index over rows already stored.
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_gen import Corpus, _renumber

from pipelines.storage.models import (
    Article,
    CrawlRun,
    Digest,
    DigestItem,
    Label,
    Match,
    Page,
    Source,
    Story,
)
from pipelines.storage.store import MIGRATIONS, Store

TOPICS = ("ai-research-policy", "semiconductors", "climate-policy")
TOPIC_RATE = 0.05  # a new story matches each topic with this chance: ~15% of articles match one
COPY_RATE = 0.3  # an article joins a story stored in the last few hours instead of starting one
SOURCES_KO, SOURCES_EN = 22, 18
DAYS = 365
DIGEST_ITEMS = 50  # digest.max_items' default: one digest a day took the day's best 50
CHUNK = 2_000
SENTENCE_POOL = 40_000  # renumbered sentences per language: no two articles share a text
REASONS = {"score": 0.0, "threshold": 0.5, "reasons": [
    {"feature": "ai", "evidence": "AI", "where": "title", "weight": 1.4},
    {"feature": "policy", "evidence": "R&D budget", "where": "lead", "weight": 0.8},
    {"feature": "actor", "evidence": "MSIT", "where": "body", "weight": 0.3}]}


def source_names() -> list[tuple[str, str]]:
    return ([(f"ko-{i:02d}", "ko") for i in range(1, SOURCES_KO + 1)]
            + [(f"en-{i:02d}", "en") for i in range(1, SOURCES_EN + 1)])


class Texts:
    """Articles of 2-4 KB (UTF-8) drawn sentence by sentence from the labelled dev articles."""

    def __init__(self, rng: random.Random) -> None:
        corpus = Corpus()
        self.rng = rng
        self.sentences = {lang: [_renumber(rng.choice(corpus.sentences[lang]), rng)
                                 for _ in range(SENTENCE_POOL)] for lang in ("ko", "en")}
        self.titles = {lang: [_renumber(rng.choice(corpus.titles[lang]), rng)
                              for _ in range(SENTENCE_POOL // 4)] for lang in ("ko", "en")}

    def article(self, lang: str) -> tuple[str, str]:
        target = self.rng.randint(2_000, 4_000)  # bytes; Hangul takes 3 bytes a character
        pool, parts, size = self.sentences[lang], [], 0
        while size < target:
            sentence = self.rng.choice(pool)
            parts.append(sentence)
            size += len(sentence.encode()) + 1
            if self.rng.random() < 0.3:
                parts.append("\n")
        return self.rng.choice(self.titles[lang]), " ".join(parts).replace(" \n ", "\n")


def generate(url: str, rows: int, now: datetime, seed: int = 7,
             progress: Any = print) -> dict[str, Any]:
    """Fill an empty database at `url` with `rows` articles over the year before `now`."""
    rng = random.Random(seed)
    texts = Texts(rng)
    store = Store(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    names = source_names()
    started = time.perf_counter()
    counts: dict[str, int] = defaultdict(int)
    groups: dict[int, list[tuple[float, int, str, int]]] = defaultdict(list)  # day -> best of group
    best_of: dict[tuple[int, str], tuple[float, int]] = {}
    matched_articles: list[tuple[int, str]] = []
    with store.engine.begin() as connection:
        connection.execute(insert(Source), [
            {"id": i, "name": name, "kind": "feed", "url": f"https://{name}.example/rss",
             "last_run_at": now - timedelta(minutes=20), "last_status": "ok",
             "last_new_at": now - timedelta(minutes=20)}
            for i, (name, _) in enumerate(names, 1)])
        connection.execute(insert(CrawlRun), [
            {"source_id": i, "started_at": now - timedelta(hours=h), "finished_at": now - timedelta(
                hours=h) + timedelta(seconds=30), "status": "ok", "new_articles": 5,
             "stats": {"clean/ok": 5}} for i in range(1, len(names) + 1) for h in range(1, 6)])
    recent: list[tuple[int, set[str]]] = []  # stories of the last few hours and their topics
    story_id = 0
    step = DAYS * 86_400 / rows
    for start in range(1, rows + 1, CHUNK):
        stories, articles, pages, matches = [], [], [], []
        for article_id in range(start, min(start + CHUNK, rows + 1)):
            fetched = now - timedelta(seconds=(rows - article_id) * step + rng.random() * step)
            if recent and rng.random() < COPY_RATE:
                own, topics = rng.choice(recent)
                topics = {t for t in topics if rng.random() < 0.9}
            else:
                story_id += 1
                own, topics = story_id, {t for t in TOPICS if rng.random() < TOPIC_RATE}
                stories.append({"id": own, "created_at": fetched})
                recent.append((own, topics))
                if len(recent) > 300:
                    recent.pop(0)
            source_id = rng.randrange(1, len(names) + 1)
            name, lang = names[source_id - 1]
            title, text = texts.article(lang)
            link = f"https://{name}.example/news/{article_id}"
            articles.append({
                "id": article_id, "source_id": source_id, "story_id": own, "url": link,
                "canonical_url": link, "title": title, "text": text, "language": lang,
                "published": fetched - timedelta(minutes=rng.randint(5, 600)),
                "fetched_at": fetched, "fingerprint": f"{article_id:064x}"})
            pages.append({"canonical_url": link, "url": link, "source_id": source_id,
                          "outcome": "stored", "article_id": article_id, "title": title,
                          "seen_at": fetched})
            if rng.random() < 0.03:  # an exact copy elsewhere, dropped: shows in also_in
                other = names[rng.randrange(len(names))][0]
                copy = f"https://{other}.example/view/{article_id}"
                pages.append({"canonical_url": copy, "url": copy, "source_id": source_id,
                              "outcome": "duplicate_text", "article_id": article_id,
                              "title": title, "seen_at": fetched})
            for topic in topics:
                score = round(rng.uniform(0.5, 1.0), 4)
                matches.append({"article_id": article_id, "topic": topic, "score": score,
                                "reasons": {**REASONS, "score": score}, "first_seen": fetched,
                                "scored_at": fetched})
                key = (own, topic)
                if key not in best_of or best_of[key][0] < score:
                    if key not in best_of:
                        groups[(now - fetched).days].append((score, own, topic, 0))
                    best_of[key] = (score, len(matched_articles))
                matched_articles.append((article_id, topic))
        with store.engine.begin() as connection:
            if stories:
                connection.execute(insert(Story), stories)
            connection.execute(insert(Article), articles)
            connection.execute(insert(Page), pages)
            if matches:
                connection.execute(insert(Match), matches)
        counts["articles"] += len(articles)
        counts["matches"] += len(matches)
        counts["pages"] += len(pages)
        if start // CHUNK % 50 == 0:
            progress(f"  {counts['articles']:,} articles, {time.perf_counter() - started:.0f} s")
    counts["stories"] = story_id
    counts["groups"] = len(best_of)
    _digests(store, now, groups, best_of, counts)
    with store.engine.begin() as connection:
        labelled = rng.sample(matched_articles, min(200, len(matched_articles)))
        connection.execute(insert(Label), [
            {"article_id": a, "topic": t, "relevant": rng.random() < 0.7, "created_at": now}
            for a, t in dict(labelled).items()])
        if connection.dialect.name == "postgresql":  # ids were given: move the sequences on
            for table in ("sources", "crawl_runs", "stories", "articles", "pages", "matches"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))")
    store.engine.dispose()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return dict(counts)


def _digests(store: Store, now: datetime, groups: dict[int, list[tuple[float, int, str, int]]],
             best_of: dict[tuple[int, str], tuple[float, int]], counts: dict[str, int]) -> None:
    """One sent digest a day, each with the day's best DIGEST_ITEMS stories: the rest wait."""
    items = 0
    with store.engine.begin() as connection:
        for age in sorted(groups, reverse=True):
            if age == 0:
                continue  # today's digest has not gone out yet
            day = now - timedelta(days=age)
            digest_id = connection.execute(insert(Digest).values(
                created_at=day, period=day.date().isoformat(), status="sent", attempts=1,
                sent_at=day, message_id=f"<bench.{age}@example.org>", subject="bench",
                recipients="reader@example.org")).inserted_primary_key[0]
            chosen = sorted(((best_of[(s, t)][0], s, t) for _, s, t, _ in groups[age]),
                            reverse=True)[:DIGEST_ITEMS]
            connection.execute(insert(DigestItem), [
                {"digest_id": digest_id, "story_id": s, "topic": t} for _, s, t in chosen])
            items += len(chosen)
    counts["digests"] = len(groups) - (0 in groups)
    counts["digest_items"] = items


if __name__ == "__main__":
    import json

    target, size = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    print(json.dumps(generate(target, size, datetime.now(UTC), seed=seed)))
