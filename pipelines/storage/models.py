"""The database schema (SQLAlchemy 2.x ORM): one module so the migration and the code agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect.

    SQLite has no zone-aware type and silently drops the offset, so a Seoul 09:00 would come back
    as an unlabelled 09:00; normalising to UTC at the boundary keeps SQLite and PostgreSQL equal.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give it a zone before storing")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Source(Base):
    """A configured source and its health, as the last crawl rounds left it."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_new_at: Mapped[datetime | None]
    last_unconditional_at: Mapped[datetime | None]
    # Index URL -> digest of a body whose every article link was dealt with (fetched, stored or
    # dropped, gone for good): that body, served again, is not read again. See spiders/base.py.
    settled_indexes: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)


class CrawlRun(Base):
    """One crawl round of one source, with what it counted."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="running")
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Story(Base):
    """One news story: the articles that are copies of each other across portals."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    articles: Mapped[list[Article]] = relationship(back_populates="story")


class Article(Base):
    """A cleaned article, stored once per canonical URL and once per exact text."""

    __tablename__ = "articles"
    # Not here: the search index over title and text (pipelines/storage/search.py), which the
    # ORM cannot describe; migration 0004 makes it.

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed with fetched_at below: a source's recent articles are counted from the index.
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)

    source: Mapped[Source] = relationship()
    story: Mapped[Story] = relationship(back_populates="articles")


class ArticleBand(Base):
    """One LSH band of a stored article's MinHash signature: the near-duplicate index, in the store.

    `key` packs the band number and the band's 32-bit hash (pipelines/dedupe/near_duplicates.py),
    so one indexed column serves every band. The primary key (key, article_id) is that index, and
    on SQLite the whole table (WITHOUT ROWID): a look-up reads only the keys it asks for.
    """

    __tablename__ = "article_bands"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_with_rowid": False}

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)


class Page(Base):
    """Every article URL fetched and what became of it, so no round fetches it again."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(2000), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Base):
    """An article flagged for a topic, with the score and the reasons behind it."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    # The article's story, copied (an article never changes story): folding the matches to one
    # per story and topic then reads this table and its indexes alone, never the articles.
    # Every writer sets it; NULL is allowed only because SQLite cannot add a NOT NULL column
    # with a foreign key without rebuilding the table (see migration 0004).
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    topic: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[float] = mapped_column(Float, index=True)
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()


class Label(Base):
    """A reader's verdict on an article for a topic; scoring uses these as examples."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("article_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    relevant: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """One digest email: recorded before sending, so a crash mid-send never sends it twice."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    period: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    subject: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    # The parts the server accepted (migration 0005), for the web view's archive; deferred, so
    # listing digests never reads the bodies.
    html: Mapped[str | None] = mapped_column(Text, deferred=True)
    text: Mapped[str | None] = mapped_column(Text, deferred=True)


class DigestItem(Base):
    """A story mailed (or about to be) for a topic: a story and topic go out at most once."""

    __tablename__ = "digest_items"
    __table_args__ = (UniqueConstraint("story_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id"), index=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"))
    topic: Mapped[str] = mapped_column(String(200))
    # A reader may later label the article irrelevant; the record of what was mailed stays.
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="SET NULL"))


Index("ix_articles_published", Article.published)
Index("ix_articles_source_fetched", Article.source_id, Article.fetched_at)
# A source's newest runs and its runs since a time (health, rhythm), without reading all its runs.
Index("ix_crawl_runs_source_started", CrawlRun.source_id, CrawlRun.started_at)
# A story's matches for a topic, by score: is there a better one (queries.py), and how many
# stories (counted from the index alone).
Index("ix_matches_story", Match.story_id, Match.topic, Match.score, Match.first_seen)
