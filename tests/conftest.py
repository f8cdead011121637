"""Shared fixtures: the local portal, the test database, a config writer, and the `newswatch`
command run for real."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.portal.server import Portal, start_portal

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    problem = databases.check_switch()
    if problem:
        raise pytest.UsageError(problem)


def pytest_report_header() -> str:
    if databases.ON_POSTGRES:
        return "database: postgresql (a private server per test process; NEWSWATCH_TEST_DATABASE)"
    return "database: sqlite (NEWSWATCH_TEST_DATABASE=postgresql runs the `postgres` tests there)"


@pytest.fixture(scope="session", autouse=True)
def _databases_finished() -> Iterator[None]:
    """The private PostgreSQL server starts on first use (tests/databases.py); stop it at the end."""
    yield
    databases.finish()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A new, empty database on the engine under test (NEWSWATCH_TEST_DATABASE)."""
    return databases.new_database(tmp_path)


@pytest.fixture
def migrated_url(tmp_path: Path) -> str:
    """A new database already at the newest schema, on the engine under test."""
    return databases.migrated_database(tmp_path)


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """The command line configures the root logger when a test runs it in-process (CliRunner):
    put it back, so its handler does not write every later test's log lines to the terminal."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = saved


@pytest.fixture(scope="session")
def portal() -> Iterator[Portal]:
    with start_portal() as running:
        yield running


@pytest.fixture
def fresh_portal(portal: Portal) -> Portal:
    portal.reset()
    portal.reset_state()
    return portal


def _toml_value(value: Any) -> str:
    """A TOML literal: inline tables for dicts, so nested topic terms fit on one line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def write_config(path: Path, sources: list[dict[str, Any]], **sections: dict[str, Any]) -> Path:
    """A newswatch.toml for tests: quick timeouts, no politeness delay, the outbox in `path`, and
    the SQLite file beside it (or its own PostgreSQL database: tests/databases.py)."""
    crawl = {"download_delay": 0, "timeout": 3, "retries": 1, "max_page_bytes": 5_000_000}
    crawl.update(sections.pop("crawl", {}))
    lines = ["[database]", f"url = {_toml_value(databases.config_database(path))}", "", "[crawl]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in crawl.items()]
    for name, table in sections.items():
        if isinstance(table, list):
            for entry in table:
                lines += ["", f"[[{name}]]"] + [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
        else:
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for source in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {_toml_value(v)}" for k, v in source.items()]
    config = path / "newswatch.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def newswatch(config: Path | None, *args: str, timeout: float = 120,
              check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process (Twisted's reactor starts once per process)."""
    command = [sys.executable, "-m", "scheduler"]
    if config is not None:
        command += ["--config", str(config)]
    result = subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout,
                            cwd=config.parent if config else None)
    if check and result.returncode != 0:
        raise AssertionError(f"newswatch {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result
