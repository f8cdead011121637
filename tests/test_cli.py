"""The command line contract: names, formats, exit codes, and errors that name the fix."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.config import load_config
from scheduler import cli
from tests import databases
from tests.conftest import newswatch

PAGES = Path(__file__).parent / "portal" / "pages"


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)
    assert result.exit_code == expect, f"newswatch {' '.join(args)}:\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real demo cycle: bundled pages crawled, flagged, stored and mailed to the outbox.

    `newswatch demo` keeps its database in an SQLite file; on PostgreSQL (tests/databases.py) the
    same cycle is run through the commands, on the demo's pages and config, into the database.
    """
    folder = tmp_path_factory.mktemp("demo")
    if not databases.ON_POSTGRES:
        result = newswatch(None, "demo", "--dir", str(folder))
        assert "stories matched a topic" in result.stdout
        return folder
    from crawler.demo import demo_config, serve_demo_site

    config = folder / "newswatch.toml"
    with serve_demo_site() as base:
        written = demo_config(base, folder)
        sqlite = f'url = "sqlite:///{folder / "newswatch.db"}"'
        assert sqlite in written, "crawler/demo.py changed how it names the database"
        config.write_text(written.replace(sqlite, f'url = "{databases.config_database(folder)}"'),
                          encoding="utf-8")
        newswatch(config, "crawl")
    newswatch(config, "digest", "--preview", "--html", str(folder / "digest.html"))
    newswatch(config, "digest", "--send")
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


@pytest.mark.postgres
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


@pytest.mark.postgres
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


@pytest.mark.postgres
def test_show_explains_a_stored_match(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    rows = json.loads(run("--config", config, "matches", "--search", "NYU", "--format", "json"))
    output = run("--config", config, "show", str(rows[0]["id"]))
    assert "ai-research-policy: MATCH" in output
    assert "과학기술정보통신부" in output  # the reasons name the canonical actor
    assert "no article #999999" in run("--config", config, "show", "999999", expect=2)


def test_explain_scores_a_page_without_storing(tmp_path: Path) -> None:
    output = run("explain", str(PAGES / "kr" / "article" / "1001.html"))
    assert "ai-research-policy: MATCH" in output
    negative = run("explain", str(PAGES / "kr" / "article" / "1003.html"))
    assert "ai-research-policy: no match" in negative
    assert not list(tmp_path.iterdir())


@pytest.mark.postgres
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


@pytest.mark.postgres
def test_digest_preview_marks_nothing(demo: Path, tmp_path: Path) -> None:
    config = str(demo / "newswatch.toml")
    html = tmp_path / "digest.html"
    first = run("--config", config, "digest", "--preview", "--html", str(html))
    assert "Subject: [newswatch]" in first
    assert run("--config", config, "digest", "--preview", "--html", str(html)) == first


def _copy(demo: Path, tmp_path: Path) -> str:
    """The demo's folder (and database) copied, so a test may change its labels freely."""
    import shutil

    target = tmp_path / "demo"
    shutil.copytree(demo, target)
    config = target / "newswatch.toml"
    url = databases.database_url(demo)
    text = config.read_text("utf-8").replace(url, databases.copy_database(url, target))
    config.write_text(text.replace(str(demo), str(target)), "utf-8")
    return str(config)


@pytest.mark.postgres
def test_labels_read_the_same_in_matches_show_and_explain(demo: Path, tmp_path: Path) -> None:
    config = _copy(demo, tmp_path)
    ((unmatched,),) = databases.rows(Path(config), "SELECT MIN(id) FROM articles WHERE id NOT IN "
                                                   "(SELECT article_id FROM matches)")
    matched = json.loads(run("--config", config, "matches", "--format", "json"))[0]["id"]
    run("--config", config, "label", str(unmatched), "relevant")
    run("--config", config, "label", str(matched), "irrelevant")

    rows = {r["id"]: r for r in json.loads(run("--config", config, "matches", "--format", "json"))}
    assert rows[unmatched]["label"] == "relevant" and matched not in rows
    table = run("--config", config, "matches")
    assert f"{rows[unmatched]['score']:.2f}*" in table
    assert "* labelled relevant by a reader" in table

    shown = run("--config", config, "show", str(unmatched))
    assert "ai-research-policy: MATCH, labelled relevant by a reader; score" in shown
    assert "no match" not in shown
    assert f"`newswatch explain {matched}` says why" in run("--config", config, "show", str(matched))
    explained = run("--config", config, "explain", str(matched))
    assert "ai-research-policy: no match, labelled irrelevant by a reader; score" in explained
    assert "labelled relevant by a reader" in run("--config", config, "explain", str(unmatched))
    assert "no article #999999" in run("--config", config, "explain", "999999", expect=2)


TOPIC = """
[[topics]]
name = "ai-research-policy"

[[topics]]
name = "ai-and-state"
threshold = 0.2
[topics.terms.ai]
mode = "require"
[[topics.terms.ai.sets]]
match = ["인공지능 = AI = artificial intelligence"]
[topics.terms.actor]
mode = "require"
[[topics.terms.actor.sets]]
match = ["정부 = government", "ministry", "과학기술정보통신부 = 과기정통부"]
"""
BOOST = """[topics.terms.research]
mode = "boost"
[[topics.terms.research.sets]]
match = ["연구 = research"]
"""


@pytest.mark.postgres
def test_rescore_reports_scores_that_changed(demo: Path, tmp_path: Path) -> None:
    config = _copy(demo, tmp_path)
    run("--config", config, "rescore")  # whatever other tests' labels changed in the demo
    text = Path(config).read_text("utf-8")
    Path(config).write_text(text + TOPIC, "utf-8")
    first = run("--config", config, "rescore")
    assert "0 new matches" not in first and "0 scores changed" in first, first
    Path(config).write_text(text + TOPIC + BOOST, "utf-8")
    second = run("--config", config, "rescore")
    changed = re.search(r"(\d+) scores changed", second)
    assert changed and int(changed.group(1)) > 0, second


@pytest.mark.parametrize(("toml", "expected"), [
    ('[[sources]]\nname = "a"\nfeed = "http://x.org/f"\nevery = 30\n',
     'sources[0] "a".every: 30 is not a duration; write a number and a unit in quotes, '
     'e.g. every = "30m"'),
    ('[digest]\nat = "7:30am"\n',
     "digest.at: '7:30am' is not a time of day; write it as 24-hour HH:MM in quotes, "
     'e.g. at = "07:30"'),
    ('[database]\nurl = "newswatch.db"\n',
     "database.url: 'newswatch.db' is not a database URL; write sqlite:///newswatch.db"),
    ('[database]\nurl = "sqlite:///no/such/folder/n.db"\n',
     "database.url: the folder {tmp}/no/such/folder does not exist; create it"),
    ('[database]\nurl = "sqlite:///afile/n.db"\n', "database.url: the folder {tmp}/afile does not exist"),
    ('[database]\nurl = "mongodb://host/db"\n', "unknown kind of database 'mongodb'"),
])
def test_config_mistakes_exit_2_with_the_expected_form(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / "afile").write_text("not a folder")
    path = tmp_path / "newswatch.toml"
    path.write_text(toml, encoding="utf-8")
    output = run("--config", str(path), "sources", expect=2)
    assert expected.format(tmp=tmp_path) in output
    assert not (tmp_path / "no").exists(), "the folder was created"


def test_a_file_that_is_not_a_database_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("shopping list\n" * 200)
    path = tmp_path / "newswatch.toml"
    path.write_text('[database]\nurl = "sqlite:///notes.db"\n', encoding="utf-8")
    output = run("--config", str(path), "matches", expect=2)
    assert "database.url: cannot open sqlite:///" in output and "file is not a database" in output
    assert "Traceback" not in output


@pytest.mark.postgres
def test_unknown_topic_or_source_exits_2_listing_the_known_names(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    output = run("--config", config, "matches", "--topic", "ai-policy", expect=2)
    assert "no topic named 'ai-policy' (topics: ai-research-policy)" in output
    output = run("--config", config, "matches", "--source", "nope", expect=2)
    assert "no source named 'nope' (sources: " in output and "hangyeol" in output


@pytest.mark.postgres
def test_config_may_follow_the_command(demo: Path) -> None:
    config = str(demo / "newswatch.toml")
    assert json.loads(run("matches", "--format", "json", "--config", config)) == json.loads(
        run("--config", config, "matches", "--format", "json"))


def test_one_set_of_output_options() -> None:
    formats = {name: next((p.type.choices for p in command.params if p.name == "fmt"), None)
               for name, command in cli.commands.items()}
    for name in ("crawl", "sources", "matches"):
        assert list(formats[name]) == ["table", "json", "csv"], name
    for name in ("show", "explain", "extract", "evaluate"):
        assert list(formats[name]) == ["text", "json"], name


def test_evaluate_takes_format_json() -> None:
    report = json.loads(run("evaluate", str(Path(__file__).parent / "data" / "dev-articles.jsonl"),
                            "--format", "json"))
    assert set(report["metrics"]) >= {"ko", "en"}
    assert "does not exist" in run("evaluate", "missing.jsonl", expect=2)


def test_label_prints_the_similar_articles_it_nudged(migrated_url: str, tmp_path: Path) -> None:
    from pipelines.scoring.topics import resolve_topics
    from pipelines.storage.store import Store
    from tests.test_classify import CAR_TEXT, CAR_TITLE, IMPLIED_AI, IMPLIED_AI_LABELED
    from tests.test_nudge import put

    config = tmp_path / "newswatch.toml"
    config.write_text(f'[database]\nurl = "{migrated_url}"\n\n[[sources]]\nname = "etnews"\n'
                      'feed = "https://etnews.example/rss"\n', encoding="utf-8")
    store = Store.open(migrated_url)
    store.sync_sources(load_config(config).sources)
    topics = resolve_topics()
    implied, judged = put(store, topics, IMPLIED_AI), put(store, topics, IMPLIED_AI_LABELED)
    car = put(store, topics, (CAR_TITLE, CAR_TEXT))
    store.engine.dispose()
    output = run("--config", str(config), "label", str(judged), "relevant")
    assert f"article #{judged} labelled relevant for ai-research-policy" in output
    line = next(line for line in output.splitlines() if line.strip().startswith(f"#{implied} "))
    before, after = (float(x) for x in re.findall(r"[01]\.\d\d", line)[:2])
    assert after > before and IMPLIED_AI[0][:20] in line
    assert f"#{car} " not in output
    data = json.loads(run("--config", str(config), "label", str(judged), "irrelevant",
                          "--format", "json"))
    assert data["label"] == "irrelevant"
    assert implied in [n["id"] for n in data["nudged"]]


def test_a_command_process_freezes_the_heap_at_exit_after_its_work() -> None:
    """main() skips Python's last garbage collections at exit (0.13 s of every command): the
    heap is frozen by an atexit handler, so after the command has run and printed."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "import scheduler\n"
            "print('frozen before:', gc.get_freeze_count() > 0)\n"
            "sys.argv = ['newswatch', '--help']\n"
            "scheduler.main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "frozen before: False" and "Usage:" in done.stdout
    assert lines[-1] == "frozen at exit: True"
