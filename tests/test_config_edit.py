"""Editing newswatch.toml (crawler/config_edit.py and `sources remove|disable|enable`, `topics add`):
comments and layout kept, the result still loads, and nothing is written when it would not."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import ConfigError, load_config
from crawler.config_edit import add_source, add_topic, remove_source, set_source_enabled
from scheduler import cli

ORIGINAL = """\
# My newswatch config: keep these notes
[database]
url = "sqlite:///newswatch.db"  # beside this file

# --- sources ---
[[sources]]
name = "ministry"   # press releases
feed = "http://www.msit.go.kr/rss"
language = "ko"

# the ledger is slow in the morning
[[sources]]
name = "ledger"
feed = "http://ledger.example.org/atom.xml"
every = "1h"

[digest]
at = "07:30"  # before the meeting
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(ORIGINAL, encoding="utf-8")
    return path


def run(config: Path, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
    assert result.exit_code == expect, f"newswatch {' '.join(args)}:\n{result.output}"
    assert "Traceback" not in result.output
    return result.output


def test_add_source_appends_one_table_and_keeps_every_comment(config: Path) -> None:
    add_source(config, {"name": "bell", "feed": "http://news.example.kr/rss.xml", "language": "ko"},
               comment="added by newswatch sources add")
    text = config.read_text(encoding="utf-8")
    assert text.startswith(ORIGINAL.split("[digest]")[0]), "the lines before the new entry changed"
    for line in ORIGINAL.splitlines():
        assert line in text, f"lost: {line!r}"
    assert '[[sources]] # added by newswatch sources add\nname = "bell"\n' in text
    assert "\n\n[digest]" in text, "a blank line still separates [digest]"
    loaded = load_config(config)
    assert [s.name for s in loaded.sources] == ["ministry", "ledger", "bell"]
    assert loaded.digest.at == "07:30"


def test_add_source_refuses_a_taken_name_and_writes_nothing(config: Path) -> None:
    with pytest.raises(ConfigError, match='a source named "ledger" is already in'):
        add_source(config, {"name": "ledger", "feed": "http://other.example/rss"})
    assert config.read_text(encoding="utf-8") == ORIGINAL


def test_an_edit_that_would_not_load_is_not_written(config: Path) -> None:
    with pytest.raises(ConfigError, match="set exactly one of feed, sitemap, listing"):
        add_source(config, {"name": "bad", "feed": "http://a.example/rss", "sitemap": "http://a.example/s"})
    assert config.read_text(encoding="utf-8") == ORIGINAL
    assert [p.name for p in config.parent.iterdir()] == ["newswatch.toml"], "no temporary file left"


def test_remove_takes_the_table_and_its_own_comment(config: Path) -> None:
    output = run(config, "sources", "remove", "ledger")
    assert 'removed source "ledger"' in output
    text = config.read_text(encoding="utf-8")
    assert "ledger" not in text and "the ledger is slow" not in text
    assert "# press releases" in text and "# before the meeting" in text
    assert [s.name for s in load_config(config).sources] == ["ministry"]


def test_disable_then_enable_keeps_comments(config: Path) -> None:
    run(config, "sources", "disable", "ministry")
    text = config.read_text(encoding="utf-8")
    assert 'language = "ko"\nenabled = false\n\n# the ledger is slow' in text
    assert load_config(config).source("ministry").enabled is False
    run(config, "sources", "enable", "ministry")
    assert load_config(config).source("ministry").enabled is True
    assert "# press releases" in config.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["remove", "disable", "enable"])
def test_an_unknown_source_exits_2_naming_the_known_ones(config: Path, command: str) -> None:
    output = run(config, "sources", command, "nope", expect=2)
    assert "no source named 'nope'" in output and "ministry, ledger" in output
    assert config.read_text(encoding="utf-8") == ORIGINAL


def test_topics_add_writes_a_query_topic_that_loads(config: Path) -> None:
    query = '(인공지능 OR AI) AND (정부 OR "public agency") NOT 주가'
    output = run(config, "topics", "add", "ai-gov", "--query", query, "--threshold", "0.6", "--yes")
    assert 'added topic "ai-gov"' in output
    text = config.read_text(encoding="utf-8")
    assert all(line in text for line in ORIGINAL.splitlines())
    data = tomllib.loads(text)
    assert data["topics"] == [{"name": "ai-gov", "query": query, "threshold": 0.6}]
    assert load_config(config).topics[0]["query"] == query


def test_topics_add_asks_first_and_a_no_writes_nothing(config: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config), "topics", "add", "ai-gov", "--query",
                                      "AI AND 정부"], obj={}, input="n\n")
    assert result.exit_code == 0
    assert "not added" in result.output
    assert config.read_text(encoding="utf-8") == ORIGINAL


@pytest.mark.parametrize(("args", "words"), [
    (["ai-gov", "--query", "(AI OR 정부"], 'the "(" at position 1 is not closed'),
    (["ai-research-policy", "--query", "AI"], 'a topic named "ai-research-policy" exists'),
    (["bad name", "--query", "AI"], "write letters, digits"),
])
def test_topics_add_refuses_with_exit_2(config: Path, args: list[str], words: str) -> None:
    output = run(config, "topics", "add", *args, "--yes", expect=2)
    assert words in output
    assert config.read_text(encoding="utf-8") == ORIGINAL


def test_a_second_topic_add_with_the_same_name_is_refused(config: Path) -> None:
    add_topic(config, {"name": "ai-gov", "query": "AI AND 정부"})
    output = run(config, "topics", "add", "ai-gov", "--query", "AI", "--yes", expect=2)
    assert 'a topic named "ai-gov" exists' in output


def test_set_enabled_and_remove_work_on_a_config_without_comments(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text('[[sources]]\nname = "a"\nfeed = "http://x.org/f"\n', encoding="utf-8")
    set_source_enabled(path, "a", False)
    assert load_config(path).source("a").enabled is False
    remove_source(path, "a")
    assert load_config(path).sources == []
