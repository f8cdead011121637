"""The command line contract: names, formats, exit codes, and errors that name the fix."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import load_config
from scheduler import cli
from tests.conftest import newswatch

PAGES = Path(__file__).parent / "portal" / "pages"


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)
    assert result.exit_code == expect, f"newswatch {' '.join(args)}:\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real demo cycle: bundled pages crawled, flagged, stored and mailed to the outbox."""
    folder = tmp_path_factory.mktemp("demo")
    result = newswatch(None, "demo", "--dir", str(folder))
    assert "stories matched a topic" in result.stdout
    return folder


@pytest.mark.parametrize(("toml", "expected"), [
    ('[[sources]]\nname = "a"\n', 'sources[0] "a": set exactly one of feed, sitemap, listing'),
    ('[[sources]]\nname = "a"\nfeed = "http://x.org/f"\nsitemap = "http://x.org/s"\n',
     "(found feed and sitemap)"),
    ('[[sources]]\nname = "a"\nfeed = "http://x.org/f"\nevery = "soon"\n',
     'sources[0] "a".every: \'soon\' is not a duration; write a number and a unit'),
    ('[[sources]]\nname = "a"\nfede = "http://x.org/f"\n', "unknown key; did you mean 'feed'?"),
    ('[[sources]]\nname = "a"\nfeed = "file:///etc/passwd"\n', "not an http(s) URL"),
    ('[[sources]]\nname = "a"\nfeed = "http://x.org/1"\n[[sources]]\nname = "a"\n'
     'feed = "http://x.org/2"\n', 'sources[0] and sources[1] are both named "a"'),
    ('[[sources]]\nname = "a"\nlisting = "http://x.org/l"\n', "needs `links`"),
    ("[digest]\ntimezone = \"Mars/Olympus\"\n", "not an IANA time zone"),
    ("[database\n", "not valid TOML"),
])
def test_invalid_config_exits_2_and_names_the_field(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text(toml, encoding="utf-8")
    output = run("--config", str(path), "sources", expect=2)
    assert expected in output


def test_config_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "newswatch.toml: no such config file; write one with `newswatch init`" in run(
        "sources", expect=2)
    env_config = tmp_path / "elsewhere.toml"
    env_config.write_text('[[sources]]\nname = "env"\nfeed = "http://x.org/f"\n')
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(env_config))
    assert "env" in run("sources")


def test_init_writes_a_valid_commented_config(tmp_path: Path) -> None:
    target = tmp_path / "newswatch.toml"
    run("init", str(target))
    config = load_config(target)
    assert {s.language for s in config.sources} == {"ko", "en"}
    assert any(s.kind == "sitemap" for s in config.sources)
    assert "exists; pass --force" in run("init", str(target), expect=1)


def test_extract_prints_json_lines_in_input_order(tmp_path: Path) -> None:
    pages = [PAGES / "kr" / "article" / "1001.html", PAGES / "euckr" / "view-3001.html"]
    for page in pages:
        assert page.exists(), f"{page} missing: run python -m tests.portal.build_pages"
    lines = run("extract", *map(str, pages), "--format", "json").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) >= {"title", "text", "published", "language", "author"}
    assert "글로벌 AI 프론티어랩" in first["title"]
    assert "[차·테크] 랭킹 뉴스" not in first["text"]
    assert "한국과 미국의 최고 연구진" in second["text"]  # EUC-KR bytes read from a file


def test_extract_missing_file_is_a_usage_error() -> None:
    assert "no such file" in run("extract", "/nonexistent/page.html", expect=2)


def test_demo_writes_a_digest_to_the_outbox(demo: Path) -> None:
    mails = list((demo / "outbox").glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert "글로벌 AI 프론티어랩" in parts["text/plain"]
    assert "글로벌 AI 프론티어랩" in parts["text/html"]
    assert (demo / "digest.html").read_text(encoding="utf-8").count("<a ") >= 3


def test_matches_json_has_the_documented_keys(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    rows = json.loads(run("--config", config, "matches", "--since", "3650d", "--format", "json"))
    assert rows, "the demo stored no match"
    for row in rows:
        assert set(row) >= {"id", "url", "title", "source", "topic", "score", "published",
                            "first_seen", "also_in"}
    titles = " ".join(row["title"] for row in rows)
    assert "프론티어랩" in titles and "Australia" in titles
    assert "harbour tram" not in titles.lower()


def test_matches_filters_and_formats(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    english = json.loads(run("--config", config, "matches", "--source", "northbridge (en, Atom)",
                             "--format", "json"))
    assert [r["source"] for r in english] == ["northbridge (en, Atom)"]
    assert json.loads(run("--config", config, "matches", "--search", "no-such-words",
                          "--format", "json")) == []
    assert json.loads(run("--config", config, "matches", "--min-score", "1.01",
                          "--format", "json")) == []
    table = run("--config", config, "matches")  # CliRunner's stdout is a pipe: nothing is cut
    stored = json.loads(run("--config", config, "matches", "--format", "json"))
    for row in stored:
        line = next(line for line in table.splitlines() if line.startswith(f"{row['id']} "))
        assert row["title"] in line and row["url"] in line, table
        assert ", ".join(place["source"] for place in row["also_in"]) in line, table
    assert "hidden" not in table, table
    rows = list(csv.DictReader(io.StringIO(run("--config", config, "matches", "--format", "csv"))))
    assert rows and {"id", "url", "score"} <= set(rows[0])


def test_show_explains_a_stored_match(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    rows = json.loads(run("--config", config, "matches", "--search", "NYU", "--format", "json"))
    output = run("--config", config, "show", str(rows[0]["id"]))
    assert "ai-research-policy: MATCH" in output
    assert "과학기술정보통신부" in output  # the reasons name the canonical actor
    assert "no article #999999" in run("--config", config, "show", "999999", expect=1)


def test_explain_scores_a_page_without_storing(tmp_path: Path) -> None:
    output = run("explain", str(PAGES / "kr" / "article" / "1001.html"))
    assert "ai-research-policy: MATCH" in output
    negative = run("explain", str(PAGES / "kr" / "article" / "1003.html"))
    assert "ai-research-policy: no match" in negative
    assert not list(tmp_path.iterdir())


def test_label_and_rescore(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    rows = json.loads(run("--config", config, "matches", "--format", "json"))
    target = rows[-1]["id"]
    assert "labelled irrelevant" in run("--config", config, "label", str(target), "irrelevant")
    after = json.loads(run("--config", config, "matches", "--format", "json"))
    assert target not in [r["id"] for r in after]
    assert "irrelevant (reader)" in run("--config", config, "show", str(target))
    assert "rescored" in run("--config", config, "rescore")
    assert target not in [r["id"] for r in json.loads(
        run("--config", config, "matches", "--format", "json"))]
    run("--config", config, "label", str(target), "relevant")
    assert target in [r["id"] for r in json.loads(
        run("--config", config, "matches", "--format", "json"))]


def test_digest_preview_marks_nothing(demo: Path, tmp_path: Path) -> None:
    config = str(demo / "newswatch.toml")
    html = tmp_path / "digest.html"
    first = run("--config", config, "digest", "--preview", "--html", str(html))
    assert "Subject: [newswatch]" in first
    assert run("--config", config, "digest", "--preview", "--html", str(html)) == first
