"""The store: migrations agree with the models, SQLite runs in WAL, datetimes keep their zone."""

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


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    store.migrate()
    with store.engine.connect() as connection:
        # The search index (an FTS5 table, or pg_trgm indexes) is the migration's alone.
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], ("the models changed without a migration: add one under "
                        f"pipelines/storage/migrations/versions/ ({diff})")


def test_schema_revision_is_alembics_head(tmp_path: Path) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION, (
        "a migration was added: set pipelines/storage/store.py SCHEMA_REVISION to its revision")
    store = Store(f"sqlite:///{tmp_path}/r.db")
    assert store.schema_revision() is None
    store.migrate()
    assert store.schema_revision() == SCHEMA_REVISION


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/w.db")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_datetimes_come_back_aware_in_utc(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/d.db")
    seoul_morning = datetime(2024, 5, 28, 9, 0, tzinfo=SEOUL)
    with store.session() as session:
        session.add(Source(name="s", kind="feed", url="http://x.org/f", last_run_at=seoul_morning))
    (row,) = store.sources()
    assert row.last_run_at == seoul_morning
    assert row.last_run_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/n.db")
    with pytest.raises(Exception, match="naive datetime"), store.session() as session:
        session.add(Source(name="s", kind="feed", url="http://x.org/f",
                           last_run_at=datetime(2024, 5, 28, 9, 0)))
