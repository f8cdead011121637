"""tests/databases.py: the switch between SQLite and PostgreSQL, and what happens without a server."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pipelines.storage.store import Store
from tests import databases
from tests.postgres import PostgresUnavailable


@pytest.mark.postgres
def test_the_database_is_on_the_engine_the_switch_names(database_url: str, migrated_url: str) -> None:
    """On the PostgreSQL pass, a test that silently got SQLite would prove nothing."""
    for url in (database_url, migrated_url):
        store = Store(url)
        with store.engine.connect() as connection:
            assert connection.dialect.name == databases.ENGINE
            if databases.ON_POSTGRES:
                assert connection.execute(text("SHOW fsync")).scalar() == "off", "not our server"
        store.close()
    assert database_url != migrated_url
    fresh, migrated = Store(database_url), Store(migrated_url)
    assert fresh.schema_revision() is None, "a new database is empty"
    assert migrated.schema_revision() is not None
    fresh.close()
    migrated.close()


def test_an_unknown_engine_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(databases, "ENGINE", "mysql")
    assert databases.check_switch() == ("NEWSWATCH_TEST_DATABASE='mysql': set it to one of "
                                        "sqlite, postgresql (unset means sqlite)")


@pytest.mark.parametrize(("required", "outcome"), [(False, pytest.skip.Exception),
                                                   (True, pytest.fail.Exception)])
def test_without_a_server_the_tests_skip_or_in_ci_fail(monkeypatch: pytest.MonkeyPatch,
                                                       required: bool, outcome: type) -> None:
    def no_binaries() -> None:
        raise PostgresUnavailable("no initdb/pg_ctl on PATH")

    monkeypatch.setattr(databases, "_server", None)
    monkeypatch.setattr(databases, "_unavailable", None)
    monkeypatch.setattr(databases, "PostgresServer", no_binaries)
    monkeypatch.setattr(databases, "REQUIRE_POSTGRES", required)
    with pytest.raises(outcome, match="no PostgreSQL server for the tests: no initdb/pg_ctl on PATH"):
        databases.postgres()
