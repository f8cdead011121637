"""the SQLite search index holds only the articles that match a topic

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-15 10:00:00

`matches --search` looks only among matches (pipelines/storage/queries.py), yet migration 0004's
triggers indexed every stored article: 2.1 ms of CPU for each one a crawl stores, the largest
single cost of storing it, for the nine articles in ten that match no topic and are never
searched. The FTS5 index now follows the matches table instead: an article is indexed when it
gets its first match and leaves the index with its last (re-scoring adds and removes matches),
and a matched article whose title or text changes is indexed again. Articles are never deleted
while they have matches (the foreign key), so no trigger on their deletion is needed.

The upgrade empties the index and indexes the matched articles again, once: about 1 ms an
article on a 2-core machine (0.7 s for 715 matched of 5,000 stored articles of 3 KB), so a
store with 145,000 matches takes two to three minutes at the first start after the upgrade.

PostgreSQL is unchanged: its pg_trgm indexes are on the articles table, and an index there
cannot be limited by a condition on another table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FTS = "articles_fts"
OLD_TRIGGERS = {
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
# An article is in the index exactly while it has at least one match.
TRIGGERS = {
    "articles_fts_matched": f"""
        CREATE TRIGGER articles_fts_matched AFTER INSERT ON matches
        WHEN NOT EXISTS (SELECT 1 FROM matches WHERE article_id = new.article_id
                         AND id <> new.id) BEGIN
            INSERT INTO {FTS} (rowid, title, text)
            SELECT id, title, text FROM articles WHERE id = new.article_id;
        END""",
    "articles_fts_unmatched": f"""
        CREATE TRIGGER articles_fts_unmatched AFTER DELETE ON matches
        WHEN NOT EXISTS (SELECT 1 FROM matches WHERE article_id = old.article_id) BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, title, text)
            SELECT 'delete', id, title, text FROM articles WHERE id = old.article_id;
        END""",
    "articles_fts_update": f"""
        CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles
        WHEN EXISTS (SELECT 1 FROM matches WHERE article_id = new.id) BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO {FTS} (rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
}


def _has_index(bind: sa.Connection) -> bool:
    """Migration 0004 made no FTS5 table where SQLite lacks FTS5 or its trigram tokenizer."""
    return bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS,)).scalar() == 1


def _replace(bind: sa.Connection, old: dict[str, str], new: dict[str, str], indexed: str) -> None:
    for trigger in old:
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    for ddl in new.values():
        bind.exec_driver_sql(ddl)
    bind.exec_driver_sql(f"INSERT INTO {FTS} ({FTS}) VALUES ('delete-all')")
    bind.exec_driver_sql(f"INSERT INTO {FTS} (rowid, title, text) "
                         f"SELECT id, title, text FROM articles WHERE {indexed}")


def upgrade() -> None:
    bind = op.get_bind()
    if _has_index(bind):
        _replace(bind, OLD_TRIGGERS, TRIGGERS, "id IN (SELECT article_id FROM matches)")


def downgrade() -> None:
    bind = op.get_bind()
    if _has_index(bind):
        _replace(bind, TRIGGERS, OLD_TRIGGERS, "1")
