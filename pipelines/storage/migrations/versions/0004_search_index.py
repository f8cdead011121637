"""search index on articles' title and text; matches know their story; reading indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00

`matches --search` looks up an index of character trigrams (pipelines/storage/search.py says
why trigrams: Korean). SQLite: an FTS5 table with the trigram tokenizer over articles' title
and text, external content (the text is not stored twice), kept in step by triggers, and built
for the stored articles here. PostgreSQL: the pg_trgm extension and a GIN index each on title
and text, which ILIKE uses. Where the engine lacks them (SQLite built without FTS5 or older than
3.34, pg_trgm not installed or not allowed), the migration says so and goes on: searches then
read the text of the rows they filter, as before.

matches.story_id: the story of the match's article, so that matches fold to one per story and
topic from their own table and its index (story_id, topic, score, first_seen), never reading an
article row; and an index on score, which the digest reads best first. The column stays
nullable: SQLite can add a NOT NULL column with a foreign key only by rebuilding the table, and
dropping the old one with foreign keys on would set every digest_items.match_id to NULL.

(source_id, fetched_at) replaces the index on source_id alone: each source's health counts its
articles of the last 30 days (pipelines/storage/health.py) from the index, not from the rows.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

FTS = "articles_fts"
SQLITE_TRIGGERS = {
    "articles_fts_insert": f"""
        CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
            INSERT INTO {FTS} (rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
    "articles_fts_delete": f"""
        CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        END""",
    "articles_fts_update": f"""
        CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO {FTS} (rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
}
PG_INDEXES = {"ix_articles_title_trgm": "title", "ix_articles_text_trgm": "text"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # Alembic would add the foreign key by a table rebuild
        bind.exec_driver_sql("ALTER TABLE matches ADD COLUMN story_id INTEGER REFERENCES stories (id)")
    else:
        op.add_column("matches", sa.Column("story_id", sa.Integer(), nullable=True))
        op.create_foreign_key("matches_story_id_fkey", "matches", "stories", ["story_id"], ["id"])
    op.execute("UPDATE matches SET story_id = "
               "(SELECT story_id FROM articles WHERE articles.id = matches.article_id)")
    op.create_index("ix_matches_story", "matches", ["story_id", "topic", "score", "first_seen"])
    op.create_index("ix_matches_score", "matches", ["score"])
    op.create_index("ix_articles_source_fetched", "articles", ["source_id", "fetched_at"])
    op.drop_index("ix_articles_source_id", table_name="articles")
    if bind.dialect.name == "sqlite":
        _sqlite_fts(bind)
    elif bind.dialect.name == "postgresql":
        _pg_trgm(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        bind.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS}")
    elif bind.dialect.name == "postgresql":
        for name in PG_INDEXES:
            bind.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    op.create_index("ix_articles_source_id", "articles", ["source_id"])
    op.drop_index("ix_articles_source_fetched", table_name="articles")
    op.drop_index("ix_matches_score", table_name="matches")
    op.drop_index("ix_matches_story", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("story_id")


def _sqlite_fts(bind: sa.Connection) -> None:
    try:
        bind.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, text, content='articles', "
            "content_rowid='id', tokenize='trigram')")
    except sa.exc.OperationalError as exc:  # "no such module: fts5", "no such tokenizer: trigram"
        version = bind.exec_driver_sql("SELECT sqlite_version()").scalar()
        logger.warning("no search index: SQLite %s cannot make an FTS5 trigram table (%s; it "
                       "needs SQLite 3.34 or later built with FTS5). `matches --search` will "
                       "read the text of every match it filters.", version, exc.orig)
        return
    for ddl in SQLITE_TRIGGERS.values():
        bind.exec_driver_sql(ddl)
    # External content: 'rebuild' reads every stored article once and indexes it.
    bind.exec_driver_sql(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")


def _pg_trgm(bind: sa.Connection) -> None:
    try:
        with bind.begin_nested():  # a failure must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        logger.warning("no search index: PostgreSQL cannot create the pg_trgm extension (%s; "
                       "install the contrib package, or have a superuser run CREATE EXTENSION "
                       "pg_trgm in this database). `matches --search` will read the text of "
                       "every match it filters.", " ".join(str(exc.orig).split()))
        return
    for name, column in PG_INDEXES.items():
        bind.exec_driver_sql(f"CREATE INDEX {name} ON articles USING gin ({column} gin_trgm_ops)")
