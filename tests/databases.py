"""The database the tests store into: SQLite files, or PostgreSQL when the switch says so.

NEWSWATCH_TEST_DATABASE=postgresql makes every database a test asks for here (and every config
`write_config` writes) a fresh database on a private PostgreSQL server (tests/postgres.py);
unset, or `sqlite`, they are SQLite files in the test's folder, as they always were. Tests marked
`postgres` are the ones that must pass on both: `pytest -m postgres` with the switch runs them.

Without a server (no binaries, or it would not start) those tests skip and say why, unless
NEWSWATCH_REQUIRE_POSTGRES=1 (set by .ci/run): then they fail, so CI cannot pass without having
run them.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import PostgresServer, PostgresUnavailable

ENGINES = ("sqlite", "postgresql")
ENGINE = os.environ.get("NEWSWATCH_TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
REQUIRE_POSTGRES = os.environ.get("NEWSWATCH_REQUIRE_POSTGRES", "") not in ("", "0")
ON_POSTGRES = ENGINE == "postgresql"

_server: PostgresServer | None = None
_unavailable: str | None = None
_migrated: dict[str, str] = {}  # engine -> the migrated database copied for each test
_folders: list[Path] = []  # made here, removed by finish()
_config_urls: dict[Path, str] = {}


def check_switch() -> str | None:
    """What is wrong with NEWSWATCH_TEST_DATABASE, if anything."""
    if ENGINE not in ENGINES:
        return (f"NEWSWATCH_TEST_DATABASE={ENGINE!r}: set it to one of {', '.join(ENGINES)} "
                "(unset means sqlite)")
    return None


def postgres() -> PostgresServer:
    """This process's private server, started on first use; skips (or in CI fails) without one."""
    global _server, _unavailable
    if _server is None and _unavailable is None:
        try:
            server = PostgresServer()
            try:
                _server = server.start()
            except BaseException:
                server.stop()
                raise
            atexit.register(finish)  # the session's end stops it; this, a run that never gets there
        except (PostgresUnavailable, OSError) as exc:
            _unavailable = f"no PostgreSQL server for the tests: {exc}"
    if _server is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{_unavailable} (NEWSWATCH_REQUIRE_POSTGRES is set: these tests must "
                        "run on PostgreSQL)", pytrace=False)
        pytest.skip(_unavailable or "no PostgreSQL server")
    return _server


def finish() -> None:
    """Stop the server, if one was started, and remove what was made outside the test folders."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None
    for folder in _folders:
        shutil.rmtree(folder, ignore_errors=True)
    _folders.clear()
    _migrated.clear()
    _config_urls.clear()


def new_database(folder: Path, name: str = "newswatch.db") -> str:
    """The URL of a new, empty database: `folder/name` on SQLite, a fresh database on PostgreSQL."""
    if ON_POSTGRES:
        return postgres().create_database()
    return f"sqlite:///{folder / name}"


def migrated_database(folder: Path, name: str = "migrated.db") -> str:
    """Like new_database, but already at the newest schema: a copy of one database migrated once
    per process, so Alembic does not run for every test."""
    from pipelines.storage.store import Store

    if ENGINE not in _migrated:
        _folders.append(Path(tempfile.mkdtemp(prefix="newswatch-migrated-")))
        template = new_database(_folders[-1])
        store = Store(template)
        store.migrate()
        store.close()  # on SQLite this checkpoints the WAL into the file
        _migrated[ENGINE] = template
    template = _migrated[ENGINE]
    if ON_POSTGRES:
        return postgres().copy_database(template)
    shutil.copy(template.removeprefix("sqlite:///"), folder / name)
    return f"sqlite:///{folder / name}"


def config_database(folder: Path) -> str:
    """What write_config puts in database.url for a config in `folder`: the SQLite file beside it
    (relative, as a user writes it), or one PostgreSQL database per folder."""
    if not ON_POSTGRES:
        return "sqlite:///newswatch.db"
    key = folder.resolve()
    if key not in _config_urls:
        _config_urls[key] = postgres().create_database()
    return _config_urls[key]


def copy_database(url: str, folder: Path) -> str:
    """A copy of the database at `url`, for a test that changes it: on SQLite the file is expected
    to be copied with its folder (into `folder`), on PostgreSQL it is copied on the server."""
    if url.startswith("sqlite:///"):
        return url
    copied = postgres().copy_database(url)
    _config_urls[folder.resolve()] = copied
    return copied


def database_url(where: Path) -> str:
    """The database URL of the config in `where` (a folder or a newswatch.toml), as the command
    line resolves it (a relative SQLite path is beside the config)."""
    config = where if where.suffix == ".toml" else where / "newswatch.toml"
    url = tomllib.loads(config.read_text(encoding="utf-8")).get("database", {}).get(
        "url", "sqlite:///newswatch.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{config.parent / url.removeprefix('sqlite:///')}"
    return url


def _plain(value: Any) -> Any:
    """A value as SQLite's driver gives it, whichever database it came from: datetimes as text
    (UTC, no offset: how the store keeps them), JSON as its text."""
    if isinstance(value, datetime | date):
        return value.isoformat(" ")
    if isinstance(value, dict | list):
        return json.dumps(value)  # what SQLAlchemy's JSON type stored, key order kept
    return value


def rows(where: Path | str, sql: str, *, missing_ok: bool = False,
         **params: Any) -> list[tuple[Any, ...]]:
    """The rows of a plain SQL query (`:name` parameters) on the test's database: `where` is a
    URL, or a folder or config naming one. With `missing_ok`, none while the database or its
    tables are not created yet (a test polling a crawl that is still starting).

    Write the SQL both engines take: no json_extract or datetime(); read JSON columns whole and
    parse them in the test.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.pool import NullPool

    url = where if isinstance(where, str) else database_url(where)
    if (missing_ok and url.startswith("sqlite:///")
            and not Path(url.removeprefix("sqlite:///")).exists()):
        return []  # connecting would create the file
    engine = create_engine(url, poolclass=NullPool)  # no pooled session left behind
    try:
        with engine.connect() as connection:
            result = connection.execute(text(sql), params)
            return [tuple(_plain(value) for value in row) for row in result]
    except (OperationalError, ProgrammingError):
        if missing_ok:
            return []
        raise
    finally:
        engine.dispose()
