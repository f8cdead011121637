"""Tests for pipelines/extraction/extract.py: recorded pages with expected output, and input that is junk."""

from __future__ import annotations

import gzip
import json
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.extraction import extract
from pipelines.extraction.encoding import decode_html
from pipelines.extraction.extract import Extracted, extract_article

PAGES = Path(__file__).parent / "pages"
DEMO = Path(__file__).parent.parent / "crawler" / "data" / "demo"
META = json.loads((PAGES / "meta.json").read_text(encoding="utf-8"))
PAGE_FILES = sorted(path.relative_to(PAGES).as_posix() for path in PAGES.glob("*/*.html"))
EXPECTED_KEYS = {"article", "author", "canonical_url", "language", "published", "title", "with", "without"}
FIX = "fix the fixture in tests/pages/ (STYLE.md §7)"


def _expected(page: str) -> dict[str, Any]:
    return json.loads((PAGES / page).with_suffix(".json").read_text(encoding="utf-8"))


def _extract(page: str, **kwargs: str) -> Extracted:
    meta = META[page]
    body = (PAGES / page).read_bytes()
    return extract_article(body, meta["url"], meta["content_type"], **kwargs)


def test_fixtures_are_complete() -> None:
    """Every page has a meta.json entry and an expected .json; both keep their keys sorted."""
    assert PAGE_FILES, "no pages under tests/pages"
    assert sorted(META) == PAGE_FILES, f"meta.json must list exactly the pages, sorted: {FIX}"
    assert list(META) == sorted(META), f"meta.json keys must be sorted: {FIX}"
    for page in PAGE_FILES:
        assert set(META[page]) == {"content_type", "date", "url"}, f"{page} in meta.json: {FIX}"
        expected_file = (PAGES / page).with_suffix(".json")
        assert expected_file.is_file(), f"{expected_file} is missing: {FIX}"
        expected = _expected(page)
        assert list(expected) == sorted(expected), f"{expected_file}: keys not sorted"
        assert set(expected) <= EXPECTED_KEYS, f"{expected_file}: unknown keys"
        assert all(value not in ("", [], None) for value in expected.values()), (
            f"{expected_file}: leave a key out rather than give it an empty value"
        )
        if expected["article"]:
            assert expected.get("with") and expected.get("without"), f"{expected_file}: {FIX}"


@pytest.mark.parametrize("page", PAGE_FILES)
def test_page(page: str) -> None:
    expected = _expected(page)
    result = _extract(page)
    where = f"{page} (expected output in {Path(page).with_suffix('.json')})"
    if not expected["article"]:
        assert result.text == "", f"{where}: not an article, yet text came out:\n{result.text}"
    else:
        assert result.text, f"{where}: no text extracted"
    for phrase in expected.get("with", []):
        assert phrase in result.text, f"{where}: missing {phrase!r} in:\n{result.text}"
    for phrase in expected.get("without", []):
        assert phrase not in result.text, f"{where}: boilerplate {phrase!r} in:\n{result.text}"
    for field in ("title", "author", "language", "canonical_url"):
        if field in expected:
            assert getattr(result, field) == expected[field], f"{where}: {field}"
    if "published" in expected:
        assert result.published == datetime.fromisoformat(expected["published"]), where
    if result.published is not None:
        assert result.published.tzinfo is not None, f"{where}: naive published date"


@pytest.mark.parametrize("page", PAGE_FILES)
def test_already_decoded_text_gives_the_same_result(page: str) -> None:
    meta = META[page]
    text = decode_html((PAGES / page).read_bytes(), meta["content_type"])
    assert extract_article(text, meta["url"]) == _extract(page)


def test_paragraphs_are_lines() -> None:
    result = _extract("korean-portal/ai-frontier-lab_2024_05_28.html")
    lines = result.text.split("\n")
    assert len(lines) == 7
    assert lines[0].startswith("과학기술정보통신부와 정보통신기획평가원(IITP)은")
    assert all(line == line.strip() and line for line in lines)


def test_language_hint_wins_and_sets_seoul_time() -> None:
    """A source configured as Korean reads zone-less page dates as Seoul time."""
    page = "korean-portal/ai-frontier-lab_2024_05_28.html"
    body = (PAGES / page).read_bytes().replace(b'<html lang="ko">', b'<html lang="en">')
    assert extract_article(body, META[page]["url"], language_hint="ko").language == "ko"
    assert extract_article(body, META[page]["url"], language_hint="ko-KR").language == "ko"
    assert extract_article(body, META[page]["url"], language_hint="ko_KR").language == "ko"
    published = extract_article(body, META[page]["url"], language_hint="ko").published
    assert published is not None and published.isoformat() == "2024-05-28T14:03:00+09:00"


def test_hangul_text_outweighs_a_wrong_html_lang() -> None:
    page = "korean-portal/ai-frontier-lab_2024_05_28.html"
    body = (PAGES / page).read_bytes().replace(b'<html lang="ko">', b'<html lang="en">')
    result = extract_article(body, META[page]["url"])
    assert result.language == "ko"
    assert result.published is not None and result.published.utcoffset().total_seconds() == 9 * 3600


def test_full_timestamp_beats_a_date_only_meta_tag() -> None:
    page = "korean-portal/ai-frontier-lab_2024_05_28.html"
    og_type = b'<meta property="og:type" content="article">'
    day_only = b'<meta name="pubdate" content="2024-05-28">'
    body = (PAGES / page).read_bytes().replace(og_type, og_type + day_only)
    published = extract_article(body, META[page]["url"]).published
    assert published is not None and published.isoformat() == "2024-05-28T14:03:00+09:00"


def test_short_article_on_a_busy_portal_stays_clean() -> None:
    """A short text on a page full of ranking lists must not pull the lists in (retry guard)."""
    page = "korean-portal/ai-frontier-lab_2024_05_28.html"
    html = (PAGES / page).read_text(encoding="utf-8")
    start = html.index("<p>과학기술정보통신부와")
    end = html.index("</div>", start)
    short = (
        "<p>인공지능(AI) 전략을 논의하는 최상위 기구인 대통령 직속 국가AI전략위원회가 8일 공식 "
        "출범했다. 위원회는 오는 11월 대한민국 AI 액션플랜을 수립해 발표할 계획이다.</p>"
    )
    result = extract_article(html[:start] + short + html[end:], META[page]["url"])
    assert result.text == short[3:-4]


def test_json_body_of_another_article_does_not_replace_the_page_text() -> None:
    """Framework state often carries "read next" articles; their bodies are not this page's."""
    page = "korean-portal/ai-frontier-lab_2024_05_28.html"
    other = "<p>의료·에너지·채용 등 국민의 권리에 큰 영향을 주는 분야의 AI는 고영향 AI로 분류된다.</p>"
    state = json.dumps({"props": {"pageProps": {"nextArticle": {"body": other * 60}}}}, ensure_ascii=False)
    script = f'<script id="__NEXT_DATA__" type="application/json">{state}</script></body>'
    html = (PAGES / page).read_text(encoding="utf-8").replace("</body>", script)
    result = extract_article(html, META[page]["url"])
    assert result.text.startswith("과학기술정보통신부와 정보통신기획평가원(IITP)은")
    assert "고영향 AI" not in result.text


def test_json_ld_body_completes_a_paywall_teaser() -> None:
    """A paywalled page shows the lede and a trending list; the whole article is in JSON-LD."""
    page = "jsonld-wire/us-ai-safety-institute_2023_11_01.html"
    trending = "".join(
        f"<li><a href='/story/{n}'>Story {n}</a><p>Summary of another story number {n}, which has "
        "nothing to do with the safety institute and is long enough to look like prose.</p></li>"
        for n in range(8)
    )
    teaser = (
        "<article><p>The United States will create a dedicated artificial intelligence safety institute "
        "within the Department of Commerce, Commerce Secretary Gina Raimondo said on Wednesday.</p>"
        "<div class='paywall'><p>Subscribe to read the rest.</p></div></article>"
        f"<section class='trending'><h2>Trending</h2><ol>{trending}</ol></section>"
    )
    html = (PAGES / page).read_text(encoding="utf-8").replace('<div id="root"></div>', teaser)
    result = extract_article(html, META[page]["url"])
    assert "Google DeepMind chief executive Demis Hassabis and Elon Musk." in result.text
    assert "Subscribe to read the rest" not in result.text
    assert "another story" not in result.text


_BLOCKS_PAGE = DEMO / "news" / "story" / "korea-germany-ai-research-pact.html.gz"
_BLOCKS_URL = "https://globalwire.example/news/story/korea-germany-ai-research-pact"
_RELATED = [
    {
        "headline": f"Other story number {n} about markets, weather and sport",
        "url": f"/news/story/other-{n}",
        "text": f"Summary of other story number {n}: ministers, traders and forecasters reacted on Tuesday "
        "to news that has nothing to do with the research centres in Daejeon and Munich.",
    }
    for n in range(12)
]


def test_next_data_body_given_as_a_list_of_blocks_is_read_whole() -> None:
    """`story.body` is a list of {"type": "paragraph", "text": ...}: all six, not the longest one."""
    result = extract_article(gzip.decompress(_BLOCKS_PAGE.read_bytes()), _BLOCKS_URL)
    lines = result.text.split("\n")
    assert len(lines) == 6, result.text
    assert lines[0].startswith("South Korea and Germany signed an agreement on Tuesday to co-fund two joint")
    assert lines[-1] == (
        "The first researchers are expected to move into temporary space at existing institutes early "
        "next year, while permanent buildings are designed."
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"relatedContent": _RELATED},
        {"storyCards": {"content": _RELATED}},
        {"moreStories": {"body": _RELATED}},
    ],
    ids=["related-key", "cards-with-headlines", "more-stories-key"],
)
def test_block_lists_of_other_stories_are_not_the_body(extra: dict[str, Any]) -> None:
    """Summaries of related stories, longer together than the story, must not become its body."""
    html = gzip.decompress(_BLOCKS_PAGE.read_bytes()).decode()
    assert sum(len(item["text"]) for item in _RELATED) > 1500
    state = json.dumps(extra)[1:-1]
    html = html.replace('"pageProps": {', '"pageProps": {' + state + ", ", 1)
    result = extract_article(html, _BLOCKS_URL)
    assert "other story number" not in result.text
    assert result.text.startswith("South Korea and Germany signed an agreement on Tuesday")
    assert result.text.endswith("while permanent buildings are designed.")


_RSC_PAGE = "rsc-portal/ondevice-ai-chips_2024_05_28.html"


def test_flight_h1_is_the_title_when_the_page_declares_none() -> None:
    """Without <title> or og:title, trafilatura would take the shell's ranking heading."""
    html = (PAGES / _RSC_PAGE).read_text(encoding="utf-8")
    html = re.sub(r"<title>.*?</title>|<meta property=\"og:title\"[^>]*>", "", html)
    result = extract_article(html, META[_RSC_PAGE]["url"])
    assert result.title == _expected(_RSC_PAGE)["title"]
    assert result.text.startswith("산업통상자원부는 28일")


def test_server_rendered_app_router_page_keeps_its_html_text() -> None:
    """Most App Router pages render the article into the HTML too: the flight copy changes nothing."""
    html = (PAGES / _RSC_PAGE).read_text(encoding="utf-8")
    flight_only = extract_article(html, META[_RSC_PAGE]["url"])
    paragraphs = "".join(f"<p>{line}</p>" for line in flight_only.text.split("\n"))
    bailout = '<!--$!--><template data-dgst="BAILOUT_TO_CLIENT_SIDE_RENDERING"></template><!--/$-->'
    assert bailout in html
    rendered = html.replace(bailout, f"<article><h1>{flight_only.title}</h1>{paragraphs}</article>")
    text = extract_article(rendered, META[_RSC_PAGE]["url"]).text
    assert text.endswith(flight_only.text)  # trafilatura keeps the <h1> of the HTML above it
    assert text.count(flight_only.text.split("\n")[0]) == 1


def test_pages_without_flight_data_skip_the_flight_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flight parse costs nothing on the pages that send none (nearly all of them)."""

    def refuse(tree: object) -> None:
        raise AssertionError("read_flight ran on a page without self.__next_f")

    monkeypatch.setattr(extract, "read_flight", refuse)
    assert _extract("korean-portal/ai-frontier-lab_2024_05_28.html").text
    assert _extract("nextjs-portal/ai-basic-act_2024_05_29.html").text


_PARAGRAPH = (
    "<p>The committee approved the research funding plan on {n} after a long debate about "
    "oversight, compute budgets and the role of university laboratories.</p>"
)
_JUNK = {
    "empty": b"",
    "whitespace": b"  \n\t ",
    "nul": b"\x00" * 1000,
    "random": bytes(random.Random(7).randrange(256) for _ in range(20000)),
    "png": b"\x89PNG\r\n\x1a\n" + bytes(random.Random(8).randrange(256) for _ in range(5000)),
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
    "broken-html": b"<html><body><p>unclosed <div><<<>>> <p>&bogus; &#xFFFFFFFF; &#0; <table><tr>",
    "json": b'{"articleBody": "not html at all", "items": [1, 2, 3]}',
    "plain-text": b"Just some plain text without any markup. " * 50,
    "deep-nesting": b"<html><body>" + b"<div>" * 5000 + b"<p>x</p>" + b"</div>" * 5000,
    "deep-json": b'<html><body><script type="application/json">'
    + b'{"a":' * 3000
    + b"1"
    + b"}" * 3000
    + b"</script></body></html>",
    "bad-json-ld": b'<html><head><script type="application/ld+json">{"@graph": [1, "x", null, '
    b'{"articleBody": 5, "author": [null, 3, {"name": 7}], "datePublished": ["2024"]}]}'
    b"</script></head><body><p>hi</p></body></html>",
    "flight-loop": b"<html><body><script>(self.__next_f=self.__next_f||[]).push([0])</script><script>"
    b'self.__next_f.push([1,"0:[\\"$\\",\\"p\\",null,{\\"children\\":[\\"$L0\\",\\"$L0\\"]}]\\n1:T9,"])'
    b'</script><script>self.__next_f.push([3,"!!not base64"])</script><script>self.__next_f.push([1,'
    b"</script></body></html>",
    "bad-state": b'<html><body><script>window.__INITIAL_STATE__ = {"a": [{"content": [null, '
    b'{"type": "text", "content": 5}]}]</script><script>__X__ = {broken</script>'
    b'<script id="__NEXT_DATA__" type="application/json">[[[[</script></body></html>',
}


@pytest.mark.parametrize("body", _JUNK.values(), ids=_JUNK.keys())
def test_junk_is_not_an_article(body: bytes) -> None:
    for content_type in (None, "text/html; charset=euc-kr", "text/html; charset=bogus"):
        result = extract_article(body, "https://junk.example/page", content_type)
        assert isinstance(result, Extracted)
        assert result.text == ""


def test_non_html_content_type_is_not_an_article() -> None:
    body = (PAGES / "english-news" / "eu-ai-act-vote_2024_03_13.html").read_bytes()
    assert extract_article(body, "https://x.example/a", "application/pdf").text == ""
    assert extract_article(body, "https://x.example/a", "image/png").text == ""


def test_str_with_lone_surrogate_does_not_raise() -> None:
    result = extract_article("<html><body><p>bad \ud800 text</p></body></html>", "https://x.example")
    assert isinstance(result, Extracted)


def test_json_escapes_that_no_database_stores_are_dropped() -> None:
    """A NUL or half a surrogate pair, escaped in a page's JSON-LD, comes out of json.loads as a
    character: PostgreSQL refuses NUL in text, and no database driver encodes a lone surrogate."""
    body = " ".join(f"The council met on day {n} to discuss the harbour tram budget." for n in range(40))
    ld = ('{"@type": "NewsArticle", "headline": "Harbour tram\\u0000 delayed", "author": {"@type": '
          f'"Person", "name": "Mina\\u0000 Park"}}, '
          f'"articleBody": "{body[:400]}\\u0000 \\udc80{body[400:]}"}}')
    page = (f'<html><head><script type="application/ld+json">{ld}</script></head>'
            '<body><div id="root">Loading</div></body></html>')
    result = extract_article(page.encode(), "https://x.example/tram")
    assert "the harbour tram budget" in result.text and result.author == "Mina Park"
    for value in (result.title, result.text, result.author):
        assert "\x00" not in value
        value.encode("utf-8")


def test_huge_page() -> None:
    """A 3 MB page with a long article and a long menu still comes out whole."""
    menu = "".join(f'<li><a href="/s/{n}">Section {n}</a></li>' for n in range(3000))
    article = "".join(_PARAGRAPH.format(n=f"day {n}") for n in range(18000))
    body = f"<html><body><nav><ul>{menu}</ul></nav><article>{article}</article></body></html>"
    assert len(body) > 3_000_000
    result = extract_article(body.encode(), "https://huge.example/story")
    assert "approved the research funding plan on day 0 after" in result.text
    assert "on day 17999 after" in result.text
    assert "Section 17" not in result.text


# Every page in the repository: the recorded pages, the test portal's and the demo's.
ALL_PAGES = sorted([*PAGES.glob("*/*.html"), *(Path(__file__).parent / "portal").rglob("*.html"),
                    *DEMO.rglob("*.html.gz")])


@pytest.mark.parametrize("path", ALL_PAGES, ids=lambda p: p.name)
def test_page_metadata_reads_what_trafilatura_reads(path: Path) -> None:
    """page_metadata runs part of trafilatura's extract_metadata: its four fields must agree."""
    from trafilatura import extract_metadata, load_html

    from pipelines.extraction.metadata import page_metadata

    raw = path.read_bytes()
    html = decode_html(gzip.decompress(raw) if path.suffix == ".gz" else raw, None)
    url = f"https://portal.example/{path.stem}"
    ours, theirs = page_metadata(load_html(html), url), extract_metadata(load_html(html), url)
    assert ours._asdict() == {field: getattr(theirs, field) for field in ours._fields}
    assert ours.title or ours.url, "a page with nothing to compare proves nothing"
