"""The database behind every stage: connection set-up, migrations, and the reads and writes they make."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipelines.storage.models import (
    Article,
    ArticleBand,
    CrawlRun,
    Digest,
    Label,
    Match,
    Page,
    Source,
    Story,
    utcnow,
)
from pipelines.storage.search import forget_index

if TYPE_CHECKING:
    from crawler.config import SourceConfig
    from crawler.timing import Rhythm
    from pipelines.dedupe.near_duplicates import NearDuplicate, NearDuplicates

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (a test checks it against Alembic's head). A database already
# there needs no Alembic, whose import (with Mako and Pygments) costs every crawl round 0.3 s.
SCHEMA_REVISION = "0007"
# The PostgreSQL advisory lock that add_article holds while it looks up and stores ("nwstory").
STORY_LOCK = 0x6E7773746F7279


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the CLI read while a crawl writes; the busy timeout rides out the short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class StoreError(Exception):
    """The database cannot be opened; the message names database.url and the fix."""


class StoredArticle(NamedTuple):
    """What add_article stored: the ids, and the stored article whose story it joined, if any."""

    article_id: int
    story_id: int
    similarity: float | None = None  # to the article it joined
    joined: int | None = None  # that article's id


class Store:
    """One engine per store; sessions are short and per operation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._source_ids: dict[str, int] = {}

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """A store for `url`, migrated to the newest schema; close() it when done.

        Raises StoreError, naming database.url, when the database cannot be opened.
        """
        try:
            store = cls(url)
            if migrate:
                store.migrate()
        except SQLAlchemyError as exc:
            shown = make_url(url).render_as_string(hide_password=True)
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise StoreError(f"database.url: cannot open {shown}: {reason}; check the URL, that "
                             "the server is up, or that the file is a newswatch database") from None
        return store

    def close(self) -> None:
        """Release the connections (the daemon and the crawl service hold one store for their life)."""
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None for a new database."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def migrate(self) -> None:
        if self.schema_revision() == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        # Under the write lock: a cluster's processes start at once on one new database, and only
        # the first may migrate it (the others then find it done).
        with self._writing() as connection:
            if inspect(connection).has_table("alembic_version") and connection.execute(
                    text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_REVISION:
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            forget_index(connection)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # -- sources and crawl runs ---------------------------------------------------------------

    def sync_sources(self, sources: Iterable[SourceConfig]) -> dict[str, int]:
        """Make the sources table agree with the config; returns name -> id."""
        ids: dict[str, int] = {}
        # Under the write lock, so processes starting at once do not add the same source twice.
        with self._writing() as connection, Session(bind=connection) as session:
            for config in sources:
                row = session.scalar(select(Source).where(Source.name == config.name))
                if row is None:
                    row = Source(name=config.name, kind=config.kind, url=config.url)
                    session.add(row)
                    session.flush()
                else:
                    row.kind, row.url = config.kind, config.url
                ids[config.name] = row.id
            session.flush()
        self._source_ids.update(ids)
        return ids

    def source_id(self, name: str) -> int:
        """The id of a source the crawl already synced (cached: asked once per item)."""
        if name not in self._source_ids:
            with self.session() as session:
                found = session.scalar(select(Source.id).where(Source.name == name))
            if found is None:
                raise KeyError(f"source {name!r} is not in the database; sync the sources first")
            self._source_ids[name] = found
        return self._source_ids[name]

    def begin_round(self, source_id: int) -> tuple[int, dict[str, str]]:
        """Open a crawl run; returns its id and the source's settled index bodies (spiders/news.py)."""
        with self.session() as session:
            run = CrawlRun(source_id=source_id)
            session.add(run)
            session.flush()
            settled = session.scalar(select(Source.settled_indexes).where(Source.id == source_id))
            return run.id, dict(settled or {})

    def start_run(self, source_id: int) -> int:
        return self.begin_round(source_id)[0]

    def finish_run(
        self, run_id: int, *, status: str, error: str | None, counts: dict[str, int],
        stats: dict[str, Any], unconditional: bool = False,
        settled_indexes: dict[str, str] | None = None,
    ) -> None:
        """Close a run and carry its outcome onto the source's health. A run ends once: one
        already closed (abandoned by a cluster's scheduler, ended by another worker) stays as it
        was recorded."""
        now = utcnow()
        with self.session() as session:
            run = session.get_one(CrawlRun, run_id)
            if run.status != "running":
                logger.warning("round %d was already recorded as %s; not again", run_id, run.status)
                return
            run.finished_at, run.status, run.error, run.stats = now, status, error, stats
            for key, value in counts.items():
                setattr(run, key, value)
            source = session.get_one(Source, run.source_id)
            source.last_run_at, source.last_status, source.last_error = now, status, error
            source.consecutive_failures = (
                source.consecutive_failures + 1 if status == "failed" else 0
            )
            if counts.get("new_articles"):
                source.last_new_at = now
            if unconditional:
                source.last_unconditional_at = now
            if settled_indexes is not None:
                source.settled_indexes = settled_indexes

    def abandon_runs(self, source_id: int, error: str) -> None:
        """A round that died without closing its run (killed, crashed): record it as failed."""
        with self.session() as session:
            running = list(session.scalars(select(CrawlRun).where(
                CrawlRun.source_id == source_id, CrawlRun.status == "running")))
        run_ids = [run.id for run in running] or [self.start_run(source_id)]
        for run_id in run_ids:
            self.finish_run(run_id, status="failed", error=error, counts={}, stats={})

    def running_sources(self) -> list[str]:
        """Names of the sources with a crawl run still marked running."""
        with self.session() as session:
            return list(session.scalars(select(Source.name).join(CrawlRun).where(
                CrawlRun.status == "running").distinct()))

    def note_source(self, name: str, error: str) -> None:
        """Say on a source what keeps it from being polled (its health is left alone)."""
        with self.session() as session:
            source = session.scalar(select(Source).where(Source.name == name))
            if source is not None:
                source.last_error = error

    def close_abandoned_run(self, run_id: int, reason: str) -> None:
        """Close one running round as `abandoned` (a cluster's worker died in the middle of it)."""
        with self.session() as session:
            run = session.get(CrawlRun, run_id)
            if run is not None and run.status == "running":
                run.status, run.finished_at, run.error = "abandoned", utcnow(), reason

    def close_abandoned_runs(self, names: Sequence[str], reason: str) -> int:
        """Close the running rounds of these sources as `abandoned`: their process is gone.

        The source's health is left alone: a round killed from outside says nothing of the site.
        """
        with self.session() as session:
            runs = list(session.scalars(select(CrawlRun).join(Source).where(
                CrawlRun.status == "running", Source.name.in_(list(names)))))
            for run in runs:
                run.status, run.finished_at, run.error = "abandoned", utcnow(), reason
            return len(runs)

    def rhythms(self, since: datetime, source_id: int | None = None) -> dict[int, Rhythm]:
        """Each source's polls since `since`: how many, the new articles the later ones found (the
        first one's haul is the feed's backlog, not its rhythm), the first one's start; and when a
        poll last found something. One query for all sources (the daemon's start)."""
        from crawler.timing import Rhythm

        runs = (select(CrawlRun.source_id, CrawlRun.new_articles, CrawlRun.started_at,
                       func.row_number().over(partition_by=CrawlRun.source_id,
                                              order_by=CrawlRun.started_at).label("n"))
                .where(CrawlRun.started_at >= since, CrawlRun.status != "running"))
        if source_id is not None:
            runs = runs.where(CrawlRun.source_id == source_id)
        runs = runs.subquery()
        later = case((runs.c.n > 1, runs.c.new_articles), else_=0)
        query = (select(runs.c.source_id, func.count(), func.coalesce(func.sum(later), 0),
                        func.min(runs.c.started_at)).group_by(runs.c.source_id))
        newest = select(Source.id, Source.last_new_at)
        if source_id is not None:  # one source after each round: not every source's row
            newest = newest.where(Source.id == source_id)
        with self.session() as session:
            last_new = dict(session.execute(newest).all())
            return {sid: Rhythm(polls=polls, found=int(found), since=_aware(first),
                                last_new=last_new.get(sid))
                    for sid, polls, found, first in session.execute(query)}

    def prune(self, runs_before: datetime, bands_before: datetime) -> tuple[int, int]:
        """Forget crawl runs older than `runs_before` (a poll every few minutes is a row each time)
        and the near-duplicate band keys of articles fetched before `bands_before` (out of the
        dedupe window, never looked up again; 42 rows an article). Returns how many of each."""
        with self.session() as session:
            runs = session.execute(delete(CrawlRun).where(
                CrawlRun.started_at < runs_before, CrawlRun.status != "running")).rowcount or 0
            old = select(Article.id).where(Article.fetched_at < bands_before)
            bands = session.execute(delete(ArticleBand).where(
                ArticleBand.article_id.in_(old))).rowcount or 0
        return runs, bands

    def labels_version(self) -> tuple[int, Any]:
        """Changes whenever a reader labels an article: how many labels, and the newest."""
        with self.session() as session:
            count, newest = session.execute(select(func.count(), func.max(Label.created_at))).one()
            return count, newest

    def examples(self) -> dict[str, list[Any]]:
        """Readers' verdicts as scoring examples, per topic."""
        from pipelines.scoring.rescore import examples_by_topic

        with self.session() as session:
            return examples_by_topic(session)

    def last_digest_at(self) -> datetime | None:
        """When the newest digest was recorded (sent or still pending)."""
        with self.session() as session:
            return session.scalar(select(func.max(Digest.created_at)))

    # -- pages and articles -------------------------------------------------------------------

    def known_urls(self, canonical_urls: Sequence[str]) -> set[str]:
        """Which of these canonical URLs were fetched before (stored, duplicate or dropped)."""
        known: set[str] = set()
        with self.session() as session:
            for start in range(0, len(canonical_urls), 500):
                chunk = canonical_urls[start : start + 500]
                known.update(session.scalars(select(Page.canonical_url).where(
                    Page.canonical_url.in_(chunk))))
        return known

    def stored_as(self, canonical_url: str, fingerprint: str) -> tuple[bool, int | None]:
        """Whether this URL was fetched before, and which stored article has this exact text:
        the dedupe stage's two questions, in one session."""
        with self.engine.connect() as connection:  # Core, prepared once: asked of every page
            if connection.execute(_PAGE_BY_URL, {"url": canonical_url}).first() is not None:
                return True, None
            return False, connection.scalar(_ARTICLE_BY_TEXT, {"fingerprint": fingerprint})

    def record_pages(
        self, urls: Iterable[str], *, url: str, source_id: int, outcome: str,
        article_id: int | None = None, title: str | None = None,
    ) -> None:
        """Remember that these canonical URLs were fetched, so later rounds skip them."""
        with self.session() as session:
            for canonical in dict.fromkeys(urls):
                exists = session.scalar(select(Page.id).where(Page.canonical_url == canonical))
                if exists is None:
                    session.add(Page(canonical_url=canonical, url=url, source_id=source_id,
                                     outcome=outcome, article_id=article_id, title=title))

    def add_article(
        self, fields: dict[str, Any], *, story_id: int | None = None, scores: Sequence[Any] = (),
        aliases: Iterable[str] = (), near_duplicates: NearDuplicates | None = None,
    ) -> StoredArticle | None:
        """Insert an article, its story (unless it joins one), its near-duplicate bands, its
        matches and the URLs it was reached by (`aliases`, so no later round fetches them), in
        one transaction.

        Unless `story_id` is given, an article with a signature (`fields["minhash"]`) joins the
        story of its closest stored near-duplicate (`near_duplicates`, or the defaults). The
        look-up runs in the storing transaction after it has taken the database's write lock,
        so a copy that another process or machine stored a moment earlier is always seen, and
        two copies stored at once cannot both start a story.

        Returns the ids and what was joined, or None if the URL or text is already stored.
        """
        new = NewArticle(fields, story_id, scores, aliases)
        return self.add_articles([new], near_duplicates=near_duplicates)[0]

    def add_articles(self, articles: Sequence[NewArticle], *,
                     near_duplicates: NearDuplicates | None = None) -> list[StoredArticle | None]:
        """`add_article` for several articles in one transaction, one after another: each one's
        near-duplicate look-up sees those stored before it, in the batch or not. One whose URL or
        text is stored already (or earlier in the batch) gives None and leaves the others be.

        A transaction is a commit and a write lock; the crawl's store stage writes what reaches
        it at about the same time together (pipelines/stages/store.py).
        """
        # Here, not at the top: reading commands open a Store and need no numpy.
        from pipelines.dedupe.near_duplicates import NearDuplicates

        near_duplicates = near_duplicates or NearDuplicates()
        # Another worker may have stored one's URL or text between our check and our insert, or
        # the batch holds it twice. That is rare, so a batch goes without savepoints (0.3 ms an
        # article) and is written again with one around each article only when it happens: a
        # repeat then undoes its own rows only. One article alone needs no second try.
        try:
            return self._insert_all(articles, near_duplicates, savepoints=False)
        except IntegrityError:
            if len(articles) == 1:
                return [_stored_already(articles[0])]
            return self._insert_all(articles, near_duplicates, savepoints=True)

    def _insert_all(self, articles: Sequence[NewArticle], near_duplicates: NearDuplicates, *,
                    savepoints: bool) -> list[StoredArticle | None]:
        stored: list[StoredArticle | None] = []
        with self._writing() as connection:
            for article in articles:
                try:
                    with connection.begin_nested() if savepoints else nullcontext():
                        stored.append(_insert_article(connection, article, near_duplicates))
                except IntegrityError:
                    if not savepoints:
                        raise
                    stored.append(_stored_already(article))
        return stored

    def find_near_duplicate(self, values: Any, text: str | None = None, *,
                            near_duplicates: NearDuplicates | None = None,
                            now: datetime | None = None) -> NearDuplicate | None:
        """The stored near-duplicate of a signature, outside any write: for reports and tests."""
        from pipelines.dedupe.near_duplicates import NearDuplicates

        with self.engine.connect() as connection:
            return (near_duplicates or NearDuplicates()).find(connection, values, text, now=now)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that holds the database's write lock from its first statement, and
        commits when the block ends without an exception.

        SQLite: BEGIN IMMEDIATE takes the write lock at once (a plain BEGIN, or pysqlite's
        implicit one before the first INSERT, would let a read run before it), and waits for
        another writer through the busy timeout. Its first read then sees every commit made
        before, and no other connection can commit until this one ends.
        PostgreSQL: a transaction-level advisory lock does the same for every transaction that
        takes it, on any machine. At READ COMMITTED (the default) each statement after the
        lock sees what the previous holder committed; at REPEATABLE READ the snapshot would be
        taken by the lock statement itself, before the wait, so keep the default.
        """
        with self.engine.connect() as connection:
            dialect = self.engine.dialect.name
            if dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif dialect == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(STORY_LOCK)))
            else:
                raise StoreError(f"database.url: {dialect} is not supported; use SQLite or "
                                 "PostgreSQL")
            yield connection
            connection.commit()

    def article_counts(self) -> dict[int, int]:
        with self.session() as session:
            rows = session.execute(select(Article.source_id, func.count()).group_by(
                Article.source_id))
            return {source_id: count for source_id, count in rows}

    def source(self, name: str) -> Source | None:
        with self.session() as session:
            return session.scalar(select(Source).where(Source.name == name))

    def sources(self) -> list[Source]:
        with self.session() as session:
            return list(session.scalars(select(Source).order_by(Source.name)))

    def last_run(self, source_id: int) -> CrawlRun | None:
        with self.session() as session:
            return session.scalar(select(CrawlRun).where(CrawlRun.source_id == source_id)
                                  .order_by(CrawlRun.started_at.desc()).limit(1))

    def latest_article_at(self, source_id: int) -> datetime | None:
        with self.session() as session:
            return session.scalar(select(func.max(Article.fetched_at)).where(
                Article.source_id == source_id))


# The dedupe stage's two look-ups, built once (see Store.stored_as).
_PAGE_BY_URL = select(Page.id).where(Page.canonical_url == bindparam("url")).limit(1)
_ARTICLE_BY_TEXT = select(Article.id).where(Article.fingerprint == bindparam("fingerprint")).limit(1)


class NewArticle(NamedTuple):
    """An article to store: its columns, and what `Store.add_article` takes beside them."""

    fields: dict[str, Any]
    story_id: int | None = None
    scores: Sequence[Any] = ()
    aliases: Iterable[str] = ()


def _stored_already(article: NewArticle) -> None:
    """What storing a repeat gives (None), said in the log."""
    logger.info("article %s was stored concurrently; keeping the first", article.fields["url"])


def _insert_article(connection: Connection, article: NewArticle,
                    near_duplicates: NearDuplicates) -> StoredArticle:
    """The rows of one article, in the writing transaction (Store.add_articles)."""
    from pipelines.dedupe.near_duplicates import band_rows, current_values

    fields, story_id = article.fields, article.story_id
    values = current_values(fields.get("minhash"))
    if fields.get("minhash") is not None and values is None:
        logger.warning("%s: its signature is not a current one; stored without near-duplicate "
                       "look-up (sign it with pipelines.dedupe.minhash.signature)", fields["url"])
    found: NearDuplicate | None = None
    if story_id is None and values is not None:
        found = near_duplicates.find(connection, values, fields.get("text"),
                                     now=fields.get("fetched_at"))
        story_id = found.story_id if found is not None else None
    # Core inserts, not ORM objects: nothing here is read back, and the unit of work was half of
    # the crawl's database time. Values go as parameters, not .values(): a statement made anew
    # for each article was compiled anew (0.3 ms).
    if story_id is None:
        story_id = connection.execute(insert(Story)).inserted_primary_key[0]
    article_id = connection.execute(
        insert(Article), {**fields, "story_id": story_id}).inserted_primary_key[0]
    bands = band_rows(article_id, values) if values is not None else []
    if bands:
        connection.execute(insert(ArticleBand), bands)
    matches = [{"article_id": article_id, "story_id": story_id, "topic": score.topic,
                "score": score.score, "reasons": score.to_json()}
               for score in article.scores if score.matched]
    if matches:
        connection.execute(insert(Match), matches)
    connection.execute(insert(Page), [
        {"canonical_url": canonical, "url": fields["url"], "source_id": fields["source_id"],
         "outcome": "stored", "article_id": article_id, "title": fields.get("title")}
        for canonical in dict.fromkeys([fields["canonical_url"], *article.aliases])])
    if found is None:
        return StoredArticle(article_id, story_id)
    return StoredArticle(article_id, story_id, found.similarity, found.article_id)


def _aware(moment: datetime | None) -> datetime | None:
    """A datetime read through an aggregate skips the column's type: SQLite gives it naive (UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
