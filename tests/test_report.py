"""Tables and `show` fit the terminal in display cells, wrap what matters, and cut nothing when piped."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from rich.cells import cell_len

from pipelines.output.report import POINT_MIN, render, terminal_width, wrap_cells
from pipelines.output.views import format_report

KO_TITLE = ("과기정통부, 美 뉴욕대에 ‘글로벌 AI 프론티어랩’ 구축…얀 르쿤·조경현 공동 소장 맡아 "
            "한국과 미국의 최고 연구진이 세계 최고 수준의 공동연구 수행")
EN_TITLE = ("Australia commits A$18 million to a national AI research network linking "
            "universities in every state and territory")
ERROR = ("HTTP 503 Service Unavailable from https://news.example.org/section/politics/list.html "
         "after 2 retries; the site may be down or blocking crawlers")
MATCHES = ["id", "score", "source", "date", "title", "also_in", "url"]
CRAWL = ["source", "status", "new_articles", "skipped", "failures", "error"]


def _matches() -> list[dict]:
    return [
        {"id": 17, "score": 0.92, "source": "한결일보 (ko, EUC-KR listing)", "date": "05-28",
         "title": KO_TITLE, "also_in": ["newsbell (ko, RSS)", "northbridge (en, Atom)"],
         "url": "https://hangyeol.example.kr/news/view.php?no=3001&section=science"},
        {"id": 3, "score": 0.88, "source": "northbridge (en, Atom)", "date": "05-27",
         "title": EN_TITLE, "also_in": [],
         "url": "https://northbridge.example.com/2024/05/27/australia-ai-research-network"},
    ]


def _crawl() -> list[dict]:
    return [
        {"source": "northbridge (en, Atom)", "status": "error", "new_articles": 0, "skipped": 0,
         "failures": 3, "error": ERROR},
        {"source": "newsbell (ko, RSS)", "status": "ok", "new_articles": 5, "skipped": 1,
         "failures": 0, "error": None},
    ]


def _column(table: str, header: str, starts: str) -> list[str]:
    """Each row's text in the column `header`, its wrapped lines joined, sliced by cell position.

    A row starts on a line with a value in the column `starts` (a short one that never wraps);
    the footer line ends the rows.
    """
    lines = table.splitlines()
    names = lines[0].split()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    assert len(names) == len(spans), f"header and rule disagree:\n{table}"
    wanted = [spans[names.index(header)], spans[names.index(starts)]]
    rows: list[list[str]] = []
    for line in lines[2:]:
        if line.startswith("(") and "hidden at" in line:
            break
        slices = ["", ""]
        pos = 0
        for char in line:
            for i, (start, end) in enumerate(wanted):
                if start <= pos < end:
                    assert pos + cell_len(char) <= end, f"{char!r} straddles a column edge: {line!r}"
                    slices[i] += char
            pos += cell_len(char)
        if slices[1].strip():
            rows.append([])
        rows[-1].append(slices[0].strip())
    return [" ".join(part for part in row if part) for row in rows]


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _widest(text: str) -> int:
    return max(cell_len(line) for line in text.splitlines())


def test_wrap_cells_counts_hangul_as_two_cells_and_loses_no_text() -> None:
    lines = wrap_cells(KO_TITLE, 20)
    assert all(cell_len(line) <= 20 for line in lines), lines
    assert len(lines[0]) < 20, "a Korean line of 20 characters would be 40 cells wide"
    assert _squeeze("".join(lines)) == _squeeze(KO_TITLE)
    assert all(not line.startswith(" ") and not line.endswith(" ") for line in lines)


def test_wrap_cells_breaks_at_spaces_else_between_characters() -> None:
    assert wrap_cells("the site may be down", 12) == ["the site may", "be down"]
    unspaced = "東京都は今日新しい人工知能研究所の設立を発表しました。"
    assert wrap_cells(unspaced, 20) == ["東京都は今日新しい人", "工知能研究所の設立を", "発表しました。"]
    url = "https://news.example.org/section/politics/list.html"
    assert wrap_cells(f"from {url}", 20) == ["from", url[:20], url[20:40], url[40:]]
    assert wrap_cells(f"from {url}", 20, break_words=False) == ["from", url]
    assert wrap_cells("a\n\nb", 10) == ["a", "", "b"]
    assert wrap_cells("  +0.35  actor", 40) == ["  +0.35  actor"], "spacing within a line is kept"


def test_table_at_80_wraps_titles_and_errors_and_fits() -> None:
    for rows, columns, point, starts in ((_matches(), MATCHES, "title", "id"),
                                         (_crawl(), CRAWL, "error", "status")):
        table = render(rows, "table", columns, width=80)
        assert _widest(table) <= 80, table
        texts = _column(table, point, starts)
        assert [_squeeze(text) for text in texts] == [_squeeze(row[point] or "") for row in rows], table
        assert table.count("…") == sum(str(row[point]).count("…") for row in rows), (
            f"a point column was cut instead of wrapped:\n{table}")


def test_secondary_columns_are_hidden_first_and_named_in_a_footer() -> None:
    table = render(_matches(), "table", MATCHES, width=80)
    header = table.splitlines()[0].split()
    assert header == ["id", "score", "source", "date", "title"], table
    assert table.splitlines()[-1] == (
        "(also_in, url hidden at 80 columns; --format json shows everything)")
    assert _column(table, "source", "id") == [row["source"] for row in _matches()]


def test_point_columns_keep_their_minimum_while_other_columns_can_go() -> None:
    rows = [{"name": "northbridge (en, Atom)", "articles": 4, "last_run": datetime(2024, 5, 28, 1, 0),
             "last_status": "error", "failures": 3, "health": "failing 3 rounds in a row",
             "last_error": ERROR, "kind": "feed", "url": "https://northbridge.example.com/feed.atom"}]
    columns = ["name", "articles", "last_run", "last_status", "failures", "health", "last_error",
               "kind", "url"]
    table = render(rows, "table", columns, width=80)
    assert _widest(table) <= 80, table
    rule = table.splitlines()[1].split()
    assert all(len(dashes) >= POINT_MIN for dashes in rule[-2:]), table
    assert "(last_status, failures, kind, url hidden at 80 columns;" in table, table
    assert _column(table, "name", "articles") == ["northbridge (en, Atom)"]
    assert [_squeeze(t) for t in _column(table, "last_error", "articles")] == [_squeeze(ERROR)]


def test_wide_terminal_shows_every_column_one_line_a_row() -> None:
    rows = [{**row, "title": row["title"][:40], "url": row["url"][:40]} for row in _matches()]
    rows[0].update(title=KO_TITLE[:22], also_in=["newsbell (ko, RSS)"])
    assert max(cell_len(row["title"]) for row in rows) == 40
    table = render(rows, "table", MATCHES, width=160)
    assert len(table.splitlines()) == 2 + len(rows), table
    assert table.splitlines()[0].split() == MATCHES
    for row in rows:
        assert row["title"] in table and row["url"] in table
    assert "newsbell (ko, RSS)" in table and "hidden" not in table


def test_piped_table_has_every_value_whole() -> None:
    rows = _matches()
    assert terminal_width() is None, "pytest captures stdout, so render sees a pipe"
    table = render(rows, "table", MATCHES)
    assert table == render(rows, "table", MATCHES, width=None)
    assert len(table.splitlines()) == 2 + len(rows), "piped rows are never wrapped"
    for row in rows:
        line = next(line for line in table.splitlines() if line.startswith(f"{row['id']} "))
        assert row["title"] in line and row["url"] in line, line
    assert _widest(table) > 160
    crawl = render(_crawl(), "table", CRAWL)
    assert ERROR in crawl and "hidden" not in crawl


def test_columns_align_in_display_cells() -> None:
    rows = [{"source": "한결일보", "score": 0.5}, {"source": "northbridge (en, Atom)", "score": 0.25}]
    for width in (None, 80):
        table = render(rows, "table", ["source", "score"], width=width)
        offsets = {cell_len(line[:line.rindex(value)]) for line, value in
                   zip(table.splitlines(), ["score", "-----", "0.50", "0.25"], strict=True)}
        assert len(offsets) == 1, table


def test_terminal_width_is_the_terminals_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width() == 80
    assert _widest(render(_matches(), "table", MATCHES)) <= 80
    monkeypatch.setenv("COLUMNS", "200")
    assert terminal_width() == 200


def test_empty_results_and_other_formats_are_unchanged() -> None:
    assert render([], "table", MATCHES, width=80) == "(none)"
    assert render([], "json", MATCHES) == "[]"
    assert render([], "csv", ["id", "title"]) == "id,title"
    rows = [{"id": 1, "title": KO_TITLE, "published": datetime(2024, 5, 28, 5, 3, tzinfo=UTC),
             "story_id": 2}]
    assert json.loads(render(rows, "json", ["id"])) == [
        {"id": 1, "title": KO_TITLE, "published": "2024-05-28T05:03:00+00:00", "story_id": 2}]
    assert list(csv.reader(io.StringIO(render(rows, "csv", ["id", "title"])))) == [
        ["id", "title"], ["1", KO_TITLE]]


def _report(text: str) -> dict:
    return {
        "id": 17, "title": KO_TITLE, "url": "https://hangyeol.example.kr/news/view.php?no=3001",
        "source": "한결일보 (ko, EUC-KR listing)", "published": datetime(2024, 5, 28, 5, 3, tzinfo=UTC),
        "language": "ko", "story_id": 2, "appearances": [], "labels": {"ai-research-policy": True},
        "matches": [{"topic": "ai-research-policy", "score": 0.92, "threshold": 0.5, "reasons": [
            {"weight": 1.17, "feature": "actor", "evidence": "과기정통부", "term": "과학기술정보통신부",
             "where": "title"}]}],
        "text": text,
    }


@pytest.mark.parametrize("width", [40, 80])
def test_show_wraps_korean_text_to_the_width(width: int) -> None:
    text = ("과학기술정보통신부와 정보통신기획평가원(IITP)은 세계적 인공지능(AI) 석학이 참여하는 가운데 "
            "한국과 미국의 최고 연구진이 세계 최고 수준의 AI 공동연구를 수행하는 ‘글로벌 AI 프론티어랩"
            "(Global AI Frontier Lab)’을 미국 뉴욕대(NYU)에 구축한다고 28일 밝혔다.\n"
            "이종호 장관은 “글로벌 AI 프론티어랩은 새로운 국제공동연구 패러다임의 첫 발”이라고 말했다.")
    output = format_report(_report(text), width=width)
    assert max(cell_len(line) for line in output.splitlines() if "://" not in line) <= width, output
    assert _squeeze(text) in _squeeze(output)
    assert _squeeze(KO_TITLE) in _squeeze(output)
    assert "과기정통부 = 과학기술정보통신부" in output.replace("\n", " ") or width < 60


def test_show_piped_wraps_for_reading_and_keeps_urls_whole() -> None:
    report = _report("가" * 300)
    report["url"] = "https://hangyeol.example.kr/" + "a" * 100
    output = format_report(report)
    assert f"url:       {report['url']}" in output.splitlines()
    assert max(cell_len(line) for line in output.splitlines() if "https://" not in line) <= 88
    assert _squeeze(report["text"]) in _squeeze(output)
