"""Title-or-text search through an index: SQLite FTS5 with trigrams, PostgreSQL pg_trgm.

Both indexes are of character trigrams, not words, because Korean needs no word tokenizer that
way: a word carries its particles (반도체를, 반도체의), so a word index would miss "반도체" in
both, while every substring of three characters or more is in a trigram index. The search keeps
its meaning on both engines: the title or the text contains TEXT, ignoring case. A TEXT of fewer
than three characters has no trigram: it is looked for in the text of each candidate row (the
matches the other filters leave), with no index.

Neither index is in the ORM metadata (models.py): an FTS5 table is a virtual table SQLAlchemy
cannot describe, and the trigram indexes exist on PostgreSQL only. Migration 0004 makes them;
`is_search_object` names them for the migration check and Alembic's autogenerate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, exists, or_, select, text
from sqlalchemy.orm import aliased

from pipelines.storage.models import Article

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)
FTS_TABLE = "articles_fts"
# FTS5 keeps an external-content table's index in shadow tables named after it.
FTS_SHADOWS = ("data", "idx", "docsize", "config", "content")
TRGM_INDEXES = ("ix_articles_title_trgm", "ix_articles_text_trgm")
# How a search reads texts on PostgreSQL (see `contains`).
Via = Literal["planner", "rows", "index"]
MIN_INDEXED = 3  # characters: the shortest text a trigram index can look up

# The dialects' answers, asked once per engine (a URL): whether migration 0004 made an index.
_found: dict[str, str | None] = {}


def is_search_object(name: str | None) -> bool:
    """A table or index of the search index: made by migration 0004, not by the models."""
    return name is not None and (name == FTS_TABLE or name in TRGM_INDEXES
                                 or any(name == f"{FTS_TABLE}_{s}" for s in FTS_SHADOWS))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name` hook: compare everything but the search index to the models."""
    return not is_search_object(name)


def search_index(connection: Connection) -> str | None:
    """`fts5` or `pg_trgm` when this database has its search index, else None (searches scan)."""
    key = connection.engine.url.render_as_string(hide_password=False)
    if key not in _found:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            found = connection.scalar(text(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": FTS_TABLE})
            _found[key] = "fts5" if found else None
        elif dialect == "postgresql":
            found = connection.scalar(text(
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'articles' AND indexname IN "
                "(:title, :text)"), {"title": TRGM_INDEXES[0], "text": TRGM_INDEXES[1]})
            _found[key] = "pg_trgm" if found == len(TRGM_INDEXES) else None
        else:
            _found[key] = None
    return _found[key]


def forget_index(connection: Connection) -> None:
    """Ask again next time (after a migration made or dropped the index)."""
    _found.pop(connection.engine.url.render_as_string(hide_password=False), None)


def uses_index(session: Session, search: str) -> bool:
    """Whether a search for `search` goes through the index, or reads each candidate's text."""
    return len(search) >= MIN_INDEXED and search_index(session.connection()) is not None


def reads_texts(session: Session, search: str) -> bool:
    """Whether a search reads the text of every row it keeps: always, but with FTS5.

    FTS5 answers a phrase from its positions alone. pg_trgm only narrows the rows down to
    those that have every trigram, then reads each one's text to check; a common word's
    trigrams are in most texts, so a search for it reads most of them.
    """
    return not uses_index(session, search) or session.get_bind().dialect.name != "sqlite"


def contains(session: Session, search: str, article_id: ColumnElement[int], *,
             via: Via = "planner") -> ColumnElement[bool]:
    """A condition: the article `article_id` has `search` in its title or text, ignoring case.

    The text is literal: `%`, `_` and FTS5's query syntax mean themselves. On PostgreSQL `via`
    says how texts are read: "rows" keeps the planner from the pg_trgm index (the condition is
    checked on each row the rest of the query gives, a few thousand, never on every row the
    index would give); "index" makes it take the index's rows first (a rare word's few); with
    "planner" the planner chooses.
    """
    if via != "rows" and uses_index(session, search) and session.get_bind().dialect.name == "sqlite":
        # One FTS5 phrase of the search's trigrams, in a row: exactly "contains", on both
        # columns at once. SQLite reads the matching rowids from the index once per query.
        phrase = '"' + search.replace('"', '""') + '"'
        found = select(text("rowid")).select_from(text(FTS_TABLE)).where(
            text(f"{FTS_TABLE} MATCH :phrase").bindparams(phrase=phrase))
        return article_id.in_(found.scalar_subquery())
    # PostgreSQL: ILIKE, answered from the pg_trgm indexes (a pattern of 3 characters or more).
    # Without an index, for a shorter text, or row by row, each candidate's title and text are read.
    pattern = "%" + search.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    article = aliased(Article, name="searched")
    title, body = article.title, article.text
    if via == "rows":  # an expression no index is built on: `title || ''` is the title
        title, body = title.concat(""), body.concat("")
    found = or_(title.ilike(pattern, escape="/"), body.ilike(pattern, escape="/"))
    if via == "index" and uses_index(session, search):
        # The articles the index finds, found once (MATERIALIZED): left to itself the planner
        # guesses that a word is in one text of 25 and may read the candidates' texts one by
        # one in page order: all 145k of a year's matches (7 s) for a word that is in none.
        searched = select(article.id).where(found).cte().prefix_with("MATERIALIZED")
        return article_id.in_(select(searched.c.id))
    return exists().where(article.id == article_id, found)
