"""The store: migrations agree with the models, SQLite runs in WAL, datetimes keep their zone.

All but the WAL test run on PostgreSQL too (NEWSWATCH_TEST_DATABASE=postgresql, tests/databases.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from pipelines.storage.models import Base, Source
from pipelines.storage.search import include_name
from pipelines.storage.store import MIGRATIONS, SCHEMA_REVISION, Store

SEOUL = timezone(timedelta(hours=9))


@pytest.mark.postgres
def test_migrations_build_exactly_the_models(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    with store.engine.connect() as connection:
        # The search index (an FTS5 table, or pg_trgm indexes) is the migration's alone.
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    store.close()
    assert diff == [], ("the models changed without a migration: add one under "
                        f"pipelines/storage/migrations/versions/ ({diff})")


@pytest.mark.postgres
def test_schema_revision_is_alembics_head(database_url: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION, (
        "a migration was added: set pipelines/storage/store.py SCHEMA_REVISION to its revision")
    store = Store(database_url)
    assert store.schema_revision() is None
    store.migrate()
    assert store.schema_revision() == SCHEMA_REVISION
    store.close()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    """SQLite only: the pragmas are what Store sets on SQLite connections (PostgreSQL has its own
    concurrency and always checks foreign keys)."""
    store = Store.open(f"sqlite:///{tmp_path}/w.db")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.postgres
def test_datetimes_come_back_aware_in_utc(database_url: str) -> None:
    store = Store.open(database_url)
    seoul_morning = datetime(2024, 5, 28, 9, 0, tzinfo=SEOUL)
    with store.session() as session:
        session.add(Source(name="s", kind="feed", url="http://x.org/f", last_run_at=seoul_morning))
    (row,) = store.sources()
    assert row.last_run_at == seoul_morning
    assert row.last_run_at.utcoffset() == timedelta(0)
    store.close()


@pytest.mark.postgres
def test_naive_datetimes_are_refused(database_url: str) -> None:
    store = Store.open(database_url)
    with pytest.raises(Exception, match="naive datetime"), store.session() as session:
        session.add(Source(name="s", kind="feed", url="http://x.org/f",
                           last_run_at=datetime(2024, 5, 28, 9, 0)))
    store.close()
