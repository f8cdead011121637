"""Reading that scales (pipelines/storage/queries.py, search.py): pages folded in SQL, leads from
the start of the text, search through the trigram index, and a digest that reads what it shows.

Every test runs against a real database: a SQLite file, or with NEWSWATCH_TEST_DATABASE=postgresql
a fresh database on the tests' private PostgreSQL server (tests/databases.py).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from sqlalchemy import delete, event, insert, select, update

from crawler.config import DigestConfig, SourceConfig
from pipelines.digest.daily import preview_digest
from pipelines.output.report import render, stream
from pipelines.storage import queries
from pipelines.storage.models import (
    Article,
    ArticleBand,
    Digest,
    DigestItem,
    Label,
    Match,
    Page,
    Source,
    Story,
)
from pipelines.storage.queries import (
    LEAD_PREFIX,
    Filters,
    count_stories,
    lead_of,
    story_matches,
    story_page,
)
from pipelines.storage.search import FTS_TABLE, forget_index, reads_texts, search_index
from pipelines.storage.store import MIGRATIONS, Store
from scheduler import cli
from tests import databases
from tests.sql_plans import explain, statements

pytestmark = pytest.mark.postgres
SOURCES = ("etnews", "yonhap", "guardian")
NOW = datetime.now(UTC)
_serial = itertools.count(1)


@dataclass
class Score:
    """What the classifier hands the store: the shape `Store.add_article` reads."""

    topic: str
    score: float
    matched: bool = True
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "threshold": 0.5, "reasons": self.reasons}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return databases.migrated_database(tmp_path)


def _upgrade(store: Store, revision: str, step: Any = command.upgrade) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)
        forget_index(connection)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    store.sync_sources([SourceConfig(name=name, feed=f"https://{name}.example/rss")
                        for name in SOURCES])
    yield store
    store.engine.dispose()


def add(store: Store, title: str, *, scores: dict[str, float] | None = None,
        source: str = "etnews", story: int | None = None, text: str | None = None,
        first_seen: datetime | None = None) -> tuple[int, int]:
    """Store an article with its matches (`scores` by topic); returns (article id, story id)."""
    n = next(_serial)
    url = f"https://{source}.example/news/{n}"
    fields = {"source_id": store.source_id(source), "url": url, "canonical_url": url,
              "title": title, "text": text or f"{title}. The ministry announced the plan. " * 12,
              "fingerprint": f"fp-{n}", "language": "en", "published": NOW - timedelta(hours=3)}
    stored = store.add_article(fields, story_id=story, scores=[
        Score(topic, value) for topic, value in (scores or {"ai": 0.8}).items()])
    assert stored is not None, f"{url} was not stored"
    if first_seen is not None:
        with store.session() as session:
            session.execute(update(Match).where(Match.article_id == stored.article_id)
                            .values(first_seen=first_seen))
    return stored.article_id, stored.story_id


def reference(store: Store, *, since: datetime | None = None, topic: str | None = None,
              source: str | None = None, search: str | None = None,
              min_score: float | None = None) -> list[dict[str, Any]]:
    """The fold as newswatch did it before, in Python over every match and its whole text:
    the best article of each story and topic, by topic, then best score, then first seen."""
    with store.session() as session:
        rows = session.execute(
            select(Match, Article, Source.name, Label.relevant)
            .join(Article, Match.article_id == Article.id)
            .join(Source, Article.source_id == Source.id)
            .outerjoin(Label, (Label.article_id == Match.article_id) & (Label.topic == Match.topic))
        ).all()
        best: dict[tuple[int, str], Any] = {}
        for match, article, source_name, label in rows:
            if since is not None and match.first_seen < since:
                continue
            if topic is not None and match.topic != topic:
                continue
            if min_score is not None and match.score < min_score:
                continue
            if search and not any(search.lower() in (value or "").lower()
                                  for value in (article.title, article.text)):
                continue
            rank = (-match.score, match.first_seen, match.id)
            key = (article.story_id, match.topic)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, {
                    "id": article.id, "story_id": article.story_id, "topic": match.topic,
                    "score": round(match.score, 4), "source": source_name, "title": article.title,
                    "url": article.url, "lead": lead_of(article.text), "label": label})
        ordered = [row for _, row in sorted(best.values(), key=lambda b: (b[1]["topic"], b[0]))]
    return [row for row in ordered if source is None or row["source"] == source]


def shown(rows: list[Any]) -> list[dict[str, Any]]:
    return [{"id": r.id, "story_id": r.story_id, "topic": r.topic, "score": round(r.score, 4),
             "source": r.source, "title": r.title, "url": r.url, "lead": r.lead, "label": r.label}
            for r in rows]


@pytest.fixture
def newsroom(store: Store) -> Store:
    """Stories told by several portals, for two topics, some scoring alike, over two weeks."""
    old = NOW - timedelta(days=10)
    first, story = add(store, "AI budget doubles", scores={"ai": 0.7, "chips": 0.6}, first_seen=old)
    best, _ = add(store, "AI budget doubles (Yonhap)", source="yonhap", story=story,
                  scores={"ai": 0.9, "chips": 0.55})
    add(store, "AI budget doubles, says minister", source="guardian", story=story,
        scores={"ai": 0.9})  # ties the Yonhap copy's score, seen later: Yonhap stays the best
    _, chip_story = add(store, "반도체 수출 규제 강화", scores={"chips": 0.95},
                        text="정부가 반도체를 포함한 첨단 부품의 수출 규제를 강화했다. " * 10)
    add(store, "반도체 수출 규제 (연합)", source="yonhap", story=chip_story,
        scores={"chips": 0.65}, text="연합뉴스: 반도체 수출 규제가 발표됐다. " * 10)
    add(store, "Semiconductor export controls tighten", source="guardian",
        scores={"chips": 0.8, "ai": 0.51},
        text="Officials tightened SEMICONDUCTOR export controls; shares fell 50% on the news. " * 6)
    add(store, "Old robotics lab opening", scores={"ai": 0.85}, first_seen=NOW - timedelta(days=40))
    add(store, "Quantum centre founded", source="guardian", scores={"ai": 0.6},
        text="A quantum centre was founded with 500 staff and a long_term plan. " * 6)
    with store.session() as session:
        session.add(Label(article_id=best, topic="ai", relevant=True))
        session.add(Label(article_id=first, topic="ai", relevant=False))  # not the best: unseen
    return store


# -- one row per story and topic, in SQL ------------------------------------------------------


@pytest.mark.parametrize("filters", [
    {}, {"since": NOW - timedelta(days=30)}, {"since": NOW - timedelta(days=5)}, {"topic": "chips"},
    {"source": "yonhap"}, {"source": "guardian", "topic": "ai"}, {"min_score": 0.7},
    {"search": "budget"}, {"search": "반도체"}, {"search": "semiconductor", "topic": "chips"},
])
def test_folding_in_sql_gives_the_rows_the_python_fold_gave(newsroom: Store,
                                                             filters: dict[str, Any]) -> None:
    with newsroom.session() as session:
        rows = story_matches(session, Filters(**filters))
    expected = reference(newsroom, **filters)
    assert expected, f"the fixture has no match for {filters}: the test proves nothing"
    assert shown(rows) == expected


def test_the_best_copy_leads_and_the_others_are_also_in(newsroom: Store) -> None:
    with newsroom.session() as session:
        rows = story_matches(session, Filters(topic="ai"))
    budget = next(r for r in rows if r.title.startswith("AI budget"))
    assert (budget.title, budget.source) == ("AI budget doubles (Yonhap)", "yonhap"), (
        "of two copies scoring 0.9, the one seen first leads")
    assert sorted(place["source"] for place in budget.also_in) == ["etnews", "guardian"]
    assert budget.reasons == {"score": 0.9, "threshold": 0.5, "reasons": []}


def test_pages_follow_one_another_and_count_every_row(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(23):
        add(store, f"Story {n:02d}", scores={"ai": 0.5 + n / 100})
    monkeypatch.setattr(queries, "BATCH", 4)  # every row, read wide 4 at a time
    with store.session() as session:
        everything = shown(story_matches(session))
        pages = [story_page(session, limit=5, offset=offset) for offset in range(0, 25, 5)]
        past = story_page(session, limit=5, offset=40)
        assert count_stories(session) == 23
    assert [row for page in pages for row in shown(page.rows)] == everything
    assert [len(page.rows) for page in pages] == [5, 5, 5, 5, 3]
    assert {page.total for page in pages} == {23}
    assert (past.rows, past.total) == ([], 23)
    assert everything[0]["title"] == "Story 22", "best first"


def test_cli_pages_the_table_and_json(store: Store, tmp_path: Path) -> None:
    for n in range(7):
        add(store, f"Story {n}", scores={"ai": 0.5 + n / 100})
    config = _config(store, tmp_path)
    whole = json.loads(_run(config, "matches", "--format", "json"))
    assert len(whole) == 7, "JSON gives every row unless asked for a page"
    page = json.loads(_run(config, "matches", "--format", "json", "--limit", "3", "--offset", "3"))
    assert page == whole[3:6]
    table = _run(config, "matches", "--limit", "3")
    assert "Story 6" in table and "Story 3" not in table
    assert "rows 1-3 of 7; --offset 3 for the next page; --limit 0 for all" in table
    last = _run(config, "matches", "--limit", "3", "--offset", "6")
    assert "rows 7-7 of 7; --limit 0 for all" in last
    assert "rows " not in _run(config, "matches"), "no footer when every row is shown"


def test_leads_come_from_the_start_of_the_text() -> None:
    text = "첫 문장입니다. " * 200
    assert lead_of(text[: LEAD_PREFIX + 1]) == lead_of(text)


def test_a_text_that_opens_with_blank_space_is_read_whole(store: Store) -> None:
    body = " \n" * LEAD_PREFIX + "The lead starts after a long blank stretch. " * 10
    article, _ = add(store, "Blank start", text=body)
    with store.session() as session:
        [row] = story_matches(session)
    assert row.id == article
    assert row.lead == lead_of(body) and row.lead.startswith("The lead starts")


def test_stream_writes_what_render_writes() -> None:
    rows = [{"id": 1, "title": "반도체 \"수출\"", "at": NOW, "also_in": ["a", "b"]},
            {"id": 2, "title": "line\nbreak, comma", "at": None, "also_in": []}]
    columns = ["id", "title", "at", "also_in"]
    for fmt in ("json", "csv"):
        assert "".join(stream(iter(rows), fmt, columns)) == render(rows, fmt, columns)
        assert "".join(stream(iter([]), fmt, columns)) == render([], fmt, columns)


# -- search through the index -----------------------------------------------------------------


def test_search_finds_korean_and_english_substrings_in_any_case(newsroom: Store) -> None:
    cases = {
        "반도체": {"반도체 수출 규제 강화"},  # in "반도체를" and "반도체 수출": no word tokenizer
        "수출 규제": {"반도체 수출 규제 강화"},
        "semiconductor": {"Semiconductor export controls tighten"},  # the text says SEMICONDUCTOR
        "EXPORT CONTROLS": {"Semiconductor export controls tighten"},
        "50%": {"Semiconductor export controls tighten"},  # literal: not "500 staff"
        "long_term": {"Quantum centre founded"},
        "long%term": set(),
        '"budget"': set(),  # FTS5 syntax is text to find, not a query
        "도체": {"반도체 수출 규제 강화"},  # two characters: no trigram, each candidate is read
    }
    with newsroom.session() as session:
        for search, titles in cases.items():
            found = {row.title for row in story_matches(session, Filters(search=search))}
            assert found == titles, f"--search {search!r}"


def test_search_reads_the_index(newsroom: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "WALK", 0)  # no walk in page order first (see below)
    plans = {search: _plan(newsroom, Filters(search=search)) for search in ("반도체", "Semicond")}
    for search, plan in plans.items():
        if newsroom.engine.dialect.name == "sqlite":
            assert f"SCAN {FTS_TABLE} VIRTUAL TABLE INDEX" in plan, f"{search}:\n{plan}"
        else:
            assert "ix_articles_text_trgm" in plan and "ix_articles_title_trgm" in plan, plan
    if newsroom.engine.dialect.name == "sqlite":  # PostgreSQL's planner weighs it by cost
        assert FTS_TABLE not in _plan(newsroom, Filters(search="도체")), "2 characters: no trigram"


@pytest.fixture
def crowded(store: Store) -> Store:
    """36 stories for two topics, every third about lithium; some told twice, where the copy
    scores higher for one topic but mentions lithium only sometimes."""
    for n in range(36):
        text = ("A lithium refinery opened. " if n % 3 == 0 else "A port reopened. ") * 8
        _, story = add(store, f"Story {n:02d}", text=text,
                       scores={"ai": 0.5 + n / 100, "chips": 0.9 - n / 100})
        if n % 4 == 0:
            add(store, f"Story {n:02d}, told again", source="yonhap", story=story,
                scores={"ai": 0.505 + n / 100}, text=text if n % 8 else "A port reopened. " * 8)
    return store


@pytest.mark.parametrize("search", ["lithium", "li"])
def test_a_search_that_reads_texts_walks_the_page_order_to_the_same_pages(
        crowded: Store, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pg_trgm reads each text its index hands over, as does a search of fewer than three
    characters on either engine: their pages come from the first WALK matches in page order
    when those hold enough, and are the pages the index gives."""
    def pages(walk: int, order: Any, limit: int, topic: str | None = None) -> list[Any]:
        monkeypatch.setattr(queries, "WALK", walk)
        with crowded.session() as session:
            return [story_page(session, Filters(search=search, topic=topic), order=order,
                               limit=limit, offset=offset) for offset in range(0, 30, limit)]

    with crowded.session() as session:
        walks = reads_texts(session, search)
    if not walks:
        assert crowded.engine.dialect.name == "sqlite", "only FTS5 finds without reading texts"
        return
    for order, limit, topic in [("topic", 3, None), ("score", 4, None), ("topic", 2, "ai")]:
        walked, indexed = pages(15, order, limit, topic), pages(0, order, limit, topic)
        assert [shown(p.rows) for p in walked] == [shown(p.rows) for p in indexed], (order, limit)
        assert walked[0].estimated and not indexed[0].estimated, "the first page was walked"
        assert not walked[-1].estimated, "a page past the walk came from the index"
        exact = indexed[0].total
        assert exact / 2 <= walked[0].total <= exact * 2, (walked[0].total, exact)
    every = reference(crowded, search=search)
    assert [row for page in pages(15, "topic", 3) for row in shown(page.rows)] == every[:30]
    assert pages(1000, "topic", 3)[0].total == len(every), "a walk over every match counts them"
    if crowded.engine.dialect.name == "postgresql":  # the walk reads each text, not the index
        monkeypatch.setattr(queries, "WALK", 15)
        plan = _plan(crowded, Filters(search=search))
        assert "trgm" not in plan, plan


@pytest.mark.parametrize("search", ["lithium", "li"])
def test_a_walk_goes_on_while_that_reads_fewer_texts_than_the_index(
        crowded: Store, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the first WALK matches hold too few for the page, a common word's walk reads on
    (the index would hand over every stored text that has it, matched or not); a word in one
    text only goes to the index."""
    with crowded.session() as session:
        if not reads_texts(session, search):
            return  # FTS5 answers from the index alone: nothing is walked
    for n in range(300):  # articles no topic matched: the index reads them, the walk never does
        url = f"https://etnews.example/other/{n}"
        crowded.add_article({"source_id": crowded.source_id("etnews"), "url": url,
                             "canonical_url": url, "title": f"Other {n}", "language": "en",
                             "text": f"Lithium prices, part {n}. " * 8, "fingerprint": url},
                            scores=[])
    monkeypatch.setattr(queries, "WALK", 4)
    with crowded.session() as session:
        walked = story_page(session, Filters(search=search), limit=6)
    monkeypatch.setattr(queries, "WALK", 0)
    with crowded.session() as session:
        indexed = story_page(session, Filters(search=search), limit=6)
    assert shown(walked.rows) == shown(indexed.rows)
    assert walked.walked > 4, "the walk went on past its first WALK matches"
    assert indexed.walked == 0
    monkeypatch.setattr(queries, "WALK", 4)
    with crowded.session() as session:  # every row (an export): the walk reads every match
        every = story_page(session, Filters(search=search))
    assert shown(every.rows) == reference(crowded, search=search)
    assert (every.total, every.estimated) == (len(every.rows), False) and every.walked > 4
    if search == "lithium":  # the index can answer a rare word of 3 characters or more
        add(crowded, "A late story", text="A cobalt mine closed. " * 8, scores={"ai": 0.01})
        monkeypatch.setattr(queries, "WALK", 4)
        with crowded.session() as session:
            rare = story_page(session, Filters(search="cobalt"), limit=6)
        assert [(r.title, r.topic) for r in rare.rows] == [("A late story", "ai")]
        assert rare.walked == 0, "none of the first 4 held it: the index found its one text"


def test_an_estimated_total_says_about(crowded: Store, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "WALK", 15)
    table = _run(_config(crowded, tmp_path), "matches", "--search", "li", "--limit", "3")
    assert re.search(r"rows 1-3 of about \d+; --offset 3 for the next page", table), table


def test_the_index_follows_inserts_updates_and_deletes(store: Store) -> None:
    article, _ = add(store, "Refinery opens", text="A lithium refinery opened. " * 8)
    add(store, "Unrelated", text="Nothing to see. " * 8)

    def found(search: str) -> set[int]:
        with store.session() as session:
            return {row.id for row in story_matches(session, Filters(search=search))}

    assert found("lithium") == {article}
    with store.session() as session:
        session.execute(update(Article).where(Article.id == article)
                        .values(text="A cobalt mine opened. " * 8))
    assert (found("lithium"), found("cobalt")) == (set(), {article})
    with store.session() as session:
        for table in (Match, Page, ArticleBand):
            session.execute(delete(table).where(table.article_id == article))
        session.execute(delete(Article).where(Article.id == article))
    assert found("cobalt") == set()
    if store.engine.dialect.name == "sqlite":
        with store.engine.begin() as connection:  # raises if the index and the rows disagree
            connection.exec_driver_sql(
                f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")


def _indexed(store: Store, word: str = "opened") -> set[int]:
    """The ids of the articles SQLite's FTS5 index has `word` in, after checking the index.

    (Checked on its own: against the articles table it would miss every unmatched article.)
    """
    with store.engine.begin() as connection:  # raises if the index is inconsistent
        connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('integrity-check')")
        return {rowid for (rowid,) in connection.exec_driver_sql(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?", (f'"{word}"',))}


def test_only_articles_with_a_match_are_indexed(store: Store) -> None:
    """Searches look among matches only, so an article that matches no topic costs the index
    nothing; it enters when a match is added (re-scoring) and leaves with its last one."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's trigram indexes cover every article")
    matched, _ = add(store, "Refinery opens", text="A lithium refinery opened. " * 8,
                     scores={"ai": 0.8, "chips": 0.7})
    unmatched, story = add(store, "Mine opens", text="A cobalt mine opened. " * 8)
    with store.session() as session:  # as if it had matched nothing
        session.execute(delete(Match).where(Match.article_id == unmatched))
    assert _indexed(store) == {matched}, "indexed once, though it has two matches"
    with store.session() as session:
        session.add(Match(article_id=unmatched, story_id=story, topic="ai", score=0.9,
                          reasons={}, first_seen=NOW, scored_at=NOW))
    assert _indexed(store) == {matched, unmatched}
    with store.session() as session:
        session.execute(delete(Match).where(Match.article_id == matched, Match.topic == "ai"))
    assert _indexed(store) == {matched, unmatched}, "one match left: still indexed"
    with store.session() as session:
        session.execute(delete(Match).where(Match.article_id == matched))
        session.execute(update(Article).where(Article.id == matched).values(text="Changed."))
    assert _indexed(store) == {unmatched}
    assert (_indexed(store, "lithium"), _indexed(store, "changed")) == (set(), set())


def test_migration_indexes_the_articles_already_stored(tmp_path: Path) -> None:
    store = Store(databases.new_database(tmp_path, "old.db"))
    _upgrade(store, "0003")
    with store.engine.begin() as connection:
        connection.execute(insert(Source).values(id=1, name="etnews", kind="feed", url="u"))
        connection.execute(insert(Story).values(id=7))
        connection.execute(insert(Article).values(
            id=3, source_id=1, story_id=7, url="https://e.example/3", canonical_url="e/3",
            title="옛 기사", text="국회가 인공지능 기본법을 통과시켰다. " * 5, fingerprint="f3"))
        connection.execute(insert(Match.__table__).values(
            article_id=3, topic="ai", score=0.7, reasons={}, first_seen=NOW, scored_at=NOW))
        connection.execute(insert(Article).values(  # matches nothing
            id=4, source_id=1, story_id=7, url="https://e.example/4", canonical_url="e/4",
            title="옛 기사", text="국회가 인공지능 기본법을 논의했다. " * 5, fingerprint="f4"))
    store.migrate()
    with store.engine.connect() as connection:
        assert search_index(connection) in ("fts5", "pg_trgm")
    with store.session() as session:
        assert session.scalar(select(Match.story_id)) == 7, "matches learn their story"
        assert [r.id for r in story_matches(session, Filters(search="인공지능 기본법"))] == [3]
    if store.engine.dialect.name == "sqlite":
        assert _indexed(store, "인공지능") == {3}, "0007: only the matched article"
        _upgrade(store, "0006", command.downgrade)
        assert _indexed(store, "인공지능") == {3, 4}, "0006 indexed every article"
    store.engine.dispose()


def test_without_an_index_search_reads_each_candidate_and_says_so(store: Store,
                                                                  tmp_path: Path) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("drops SQLite's FTS5 table, as a SQLite without FTS5 would have none")
    article, _ = add(store, "Lithium refinery opens", text="A lithium refinery opened. " * 8)
    with store.engine.begin() as connection:
        for (trigger,) in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE ?",
                (f"%{FTS_TABLE}%",)).all():
            connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
        connection.exec_driver_sql(f"DROP TABLE {FTS_TABLE}")
        forget_index(connection)
    with store.session() as session:
        assert [r.id for r in story_matches(session, Filters(search="LITHIUM"))] == [article]
    result = CliRunner().invoke(cli, ["--config", str(_config(store, tmp_path)), "matches",
                                      "--search", "lithium", "--format", "json"], obj={})
    assert result.exit_code == 0, result.output
    assert "this database has no search index" in result.stderr
    assert [row["id"] for row in json.loads(result.stdout)] == [article]


def test_a_short_search_says_it_reads_every_candidate(newsroom: Store, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_config(newsroom, tmp_path)), "matches",
                                      "--search", "도체", "--format", "json"], obj={})
    assert result.exit_code == 0, result.output
    assert "shorter than 3 characters" in result.stderr
    assert [row["title"] for row in json.loads(result.stdout)] == ["반도체 수출 규제 강화"]


# -- the digest reads what it shows -----------------------------------------------------------


def test_digest_takes_the_best_unsent_stories_and_reads_only_those(store: Store) -> None:
    stories = {}
    for n in range(30):
        _, stories[n] = add(store, f"Story {n:02d}", scores={"ai": 0.5 + n / 100},
                            text=f"Story {n:02d} opens here. " + "More words follow. " * 300)
    with store.session() as session:  # the best two went out yesterday
        session.add(Digest(id=1, period="2025-03-03", status="sent", message_id="<m1@x>"))
        session.flush()
        session.add_all(DigestItem(digest_id=1, story_id=stories[n], topic="ai") for n in (29, 28))
    config = DigestConfig.model_validate({"max_items": 5, "to": ["a@example.org"]})
    with statements(store) as seen, _loaded_articles() as loaded:
        content = preview_digest(store, config, now=NOW)
    assert [item.title for item in content.items] == [f"Story {n}" for n in (27, 26, 25, 24, 23)]
    assert "23 more matches wait for the next digest" in content.text
    assert loaded == [], "no Article object (and its whole text) was loaded"
    texts = [s for s in seen if "articles.text" in s]
    assert texts and all(_only_leads(s) for s in texts), texts
    [lead_query] = [s for s in texts if "substr(articles.text" in s]
    assert _in_list_size(lead_query) == 5, "leads are read for the 5 chosen stories only"


# -- helpers ----------------------------------------------------------------------------------


def _config(store: Store, tmp_path: Path) -> Path:
    sources = "".join(f'[[sources]]\nname = "{n}"\nfeed = "https://{n}.example/rss"\n'
                      for n in SOURCES)
    url = store.engine.url.render_as_string(hide_password=False)
    path = tmp_path / "newswatch.toml"
    path.write_text(f'[database]\nurl = "{url}"\n\n{sources}', encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
    assert result.exit_code == 0, result.output
    return result.stdout


def _plan(store: Store, filters: Filters) -> str:
    """The engine's plan for the page query `story_page` sends."""
    with statements(store, params=True) as seen, store.session() as session:
        story_page(session, filters, limit=10)
    sql, params = next((s, p) for s, p in seen if "ORDER BY" in s and "LIMIT" in s)
    return explain(store, sql, params, off=("seqscan", "indexscan"))


class _loaded_articles:
    def __init__(self) -> None:
        self.loaded: list[int] = []

    def _record(self, target: Article, context: Any) -> None:
        self.loaded.append(target.id)

    def __enter__(self) -> list[int]:
        event.listen(Article, "load", self._record)
        return self.loaded

    def __exit__(self, *exc: object) -> None:
        event.remove(Article, "load", self._record)


def _only_leads(statement: str) -> bool:
    """Every mention of the text column is the lead's bounded prefix."""
    return all(statement[max(0, m.start() - 7) : m.start()] == "substr("
               for m in re.finditer(r"articles\.text", statement))


def _in_list_size(statement: str) -> int:
    """How many values the statement's one IN list holds (SQLAlchemy expands it at execution)."""
    [start] = [m.end() for m in re.finditer(r" IN \(", statement)]
    for count, token in enumerate(re.finditer(r"%\(\w+\)s|\?|\)", statement[start:])):
        if token.group() == ")":
            return count
    raise AssertionError(f"no end to the IN list: {statement}")
