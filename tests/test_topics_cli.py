"""`newswatch topics`, `topics test` on a stored crawl of the local portal: what a topic or a draft
query would match, per source and near the threshold, storing nothing; and topics' records."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text

from crawler.config import load_config
from scheduler import cli
from tests.conftest import newswatch, write_config
from tests.portal.server import Portal

EXAMPLE = ('(인공지능 OR AI OR "machine learning") '
           "AND (정부 OR 부처 OR government OR ministry OR 과기정통부) NOT (주가 OR stock)")
ALL_TIME = ("--since", "3650d")  # the portal's articles are from May 2024; they were fetched now


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, portal: Portal) -> Path:
    """Three portals crawled into one store, with two one-line topics in the config."""
    folder = tmp_path_factory.mktemp("topics")
    config = write_config(folder, [
        {"name": "kr", "feed": portal.url_for("/kr/rss.xml"), "language": "ko"},
        {"name": "ledger", "feed": portal.url_for("/en/atom.xml"), "language": "en"},
        {"name": "hangyeol", "listing": portal.url_for("/euckr/list"), "links": "a.headline",
         "next": "a.next", "max_pages": 3, "language": "ko"},
    ], topics=[{"name": "ai-gov", "query": EXAMPLE}, {"name": "ai-any", "query": "AI OR 인공지능"}])
    newswatch(config, "crawl")
    return config


def run(config: Path, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={})
    assert result.exit_code == expect, f"newswatch {' '.join(args)}:\n{result.output}"
    assert "Traceback" not in result.output
    return result.output


def snapshot(config: Path) -> dict[str, Any]:
    engine = create_engine(load_config(config).database_url)
    try:
        with engine.connect() as connection:
            return {t: connection.execute(select(text("*")).select_from(text(t))).all()
                    for t in inspect(connection).get_table_names()}
    finally:
        engine.dispose()


def test_a_draft_query_shows_what_it_would_match_and_stores_nothing(crawled: Path) -> None:
    before = snapshot(crawled)
    rows = json.loads(run(crawled, "topics", "test", "--query", EXAMPLE, *ALL_TIME, "--format", "json"))
    matched = {(r["source"], r["title"]) for r in rows if r["matched"]}
    assert matched == {
        ("kr", "과기정통부, ‘글로벌 AI 프론티어랩’ 구축… 공동 소장에 얀르쿤 발탁"),
        ("hangyeol", "과기정통부, 美 뉴욕대에 ‘글로벌 AI 프론티어랩’…얀 르쿤·조경현 공동 소장"),
        ("hangyeol", "인공지능 대학원 3곳 추가 선정…5년간 학교당 최대 95억원 지원"),
        ("ledger", "Australia commits A$180m to four national AI research institutes"),
    }
    assert all(r["reasons"] for r in rows)
    assert {"id", "url", "score", "threshold", "borderline", "label", "published"} <= set(rows[0])
    assert snapshot(crawled) == before, "topics test wrote to the database"


def test_the_table_counts_per_source_and_borderline(crawled: Path) -> None:
    output = run(crawled, "topics", "test", "--query", EXAMPLE, *ALL_TIME)
    assert "4 of 14 articles fetched in the last 3650d would match" in output
    assert "(by source: hangyeol 2, kr 1, ledger 1)" in output or \
        "(by source: hangyeol 2, ledger 1, kr 1)" in output
    assert "nothing was stored" in output


def test_a_high_threshold_turns_matches_into_borderline_ones(crawled: Path) -> None:
    rows = json.loads(run(crawled, "topics", "test", "--query", EXAMPLE, "--threshold", "0.95",
                          *ALL_TIME, "--format", "json"))
    assert rows and not any(r["matched"] for r in rows)
    assert all(r["borderline"] and r["verdict"] == "near" for r in rows)
    output = run(crawled, "topics", "test", "--query", EXAMPLE, "--threshold", "0.95", *ALL_TIME)
    assert "0 of 14 articles" in output and f"{len(rows)} borderline" in output


def test_a_configured_topic_by_name_and_csv(crawled: Path) -> None:
    text_ = run(crawled, "topics", "test", "ai-research-policy", *ALL_TIME, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text_)))
    assert {r["source"] for r in rows if r["verdict"] == "match"} == {"kr", "hangyeol", "ledger"}
    assert list(rows[0]) == ["id", "score", "verdict", "source", "date", "title", "reasons", "url"]


def test_since_limits_the_articles(crawled: Path) -> None:
    time.sleep(1.1)  # the crawl may have stored its last article within the second
    output = run(crawled, "topics", "test", "ai-gov", "--since", "1s")
    assert "(none)" in output and "0 of 0 articles fetched in the last 1s would match" in output


@pytest.mark.parametrize(("args", "words"), [
    (["topics", "test"], "give a topic NAME or a draft --query"),
    (["topics", "test", "ai-gov", "--query", "AI"], "give a topic NAME or a draft --query"),
    (["topics", "test", "nope"], "no topic named 'nope'"),
    (["topics", "test", "--query", "AI AND (정부"], 'the "(" at position 8 is not closed'),
    (["topics", "test", "ai-gov", "--since", "soon"], "'soon' is not a duration"),
    (["topics", "--since", "soon"], "'soon' is not a duration"),
])
def test_bad_input_exits_2_naming_the_fix(crawled: Path, args: list[str], words: str) -> None:
    assert words in run(crawled, *args, expect=2)


def test_topics_lists_matches_per_day_labels_and_warns_when_overruled(crawled: Path) -> None:
    run(crawled, "rescore")
    rows = {r["topic"]: r for r in json.loads(run(crawled, "topics", "--format", "json"))}
    assert set(rows) == {"ai-research-policy", "ai-gov", "ai-any"}
    assert rows["ai-gov"]["kind"] == "query" and rows["ai-research-policy"]["kind"] == "terms"
    assert rows["ai-gov"]["matches"] == 4
    assert rows["ai-gov"]["per_day"] == round(4 / 30, 2)
    assert rows["ai-any"]["warning"] is None
    # Readers say "irrelevant" to the AI business stories that the broad topic matches.
    business = json.loads(run(crawled, "topics", "test", "ai-any", *ALL_TIME, "--format", "json"))
    wrong = [r["id"] for r in business if r["matched"] and r["title"] and (
        "루미나랩스" in r["title"] or "Norrland" in r["title"] or "챗봇" in r["title"])]
    assert len(wrong) == 3
    for article_id in wrong:
        run(crawled, "label", str(article_id), "irrelevant", "--topic", "ai-any")
    right = next(r["id"] for r in business if "대학원" in (r["title"] or ""))
    run(crawled, "label", str(right), "relevant", "--topic", "ai-any")
    rows = {r["topic"]: r for r in json.loads(run(crawled, "topics", "--format", "json"))}
    record = rows["ai-any"]
    assert (record["labels"], record["agreed"]) == (4, 1)
    assert record["overruled"] == 3
    assert "readers overruled 3 of 4 labels" in record["warning"]
    table = run(crawled, "topics")
    assert "readers overruled 3 of 4 labels" in table
    csv_rows = list(csv.DictReader(io.StringIO(run(crawled, "topics", "--format", "csv"))))
    assert [r["topic"] for r in csv_rows] == ["ai-research-policy", "ai-gov", "ai-any"]
