"""pipelines/extraction/flight.py: the RSC wire format of Next.js App Router pages, and hostile payloads."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from trafilatura import load_html

from pipelines.extraction.embedded import embedded_body
from pipelines.extraction.flight import _MAX_PAYLOAD, FlightArticle, flight_payload, parse_rows, read_flight

_BOOTSTRAP = "<script>(self.__next_f=self.__next_f||[]).push([0])</script>"
_LONG = (
    "산업통상자원부는 28일 온디바이스 AI 반도체 개발에 2028년까지 5년간 1조원을 투입한다고 밝혔다. "
    "정부는 국산 AI 반도체의 국내 시장 점유율을 2030년까지 30%로 끌어올린다는 목표를 세웠다."
)


def _push(segment: list[Any]) -> str:
    """A push script as Next.js writes it: JSON with <, > and & escaped for HTML."""
    literal = json.dumps(segment, ensure_ascii=False, separators=(",", ":"))
    literal = literal.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<script>self.__next_f.push({literal})</script>"


def _page(stream: str, sizes: tuple[int, ...] = (37, 101, 13, 260)) -> str:
    """A shell page pushing `stream` in chunks cut anywhere, mid-row and mid-string."""
    chunks, pos = [], 0
    while pos < len(stream):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(stream[pos : pos + size])
        pos += size
    scripts = _BOOTSTRAP + "".join(_push([1, chunk]) for chunk in chunks)
    return f'<html><head></head><body><div id="app"></div>{scripts}</body></html>'


def _rows(*rows: tuple[str, Any]) -> str:
    return "".join(f"{row_id}:{json.dumps(value, ensure_ascii=False)}\n" for row_id, value in rows)


def _text_row(row_id: str, text: str) -> str:
    return f"{row_id}:T{len(text.encode()):x},{text}"


def _flight(stream: str) -> FlightArticle:
    flight = read_flight(load_html(_page(stream)))
    assert flight is not None
    return flight


def _el(tag: str, children: Any = None, **props: Any) -> list[Any]:
    if children is not None:
        props["children"] = children
    return ["$", tag, None, props]


def test_text_rows_count_bytes_and_may_hold_newlines() -> None:
    """A text row is read by its UTF-8 length; the rows after it parse, though no newline ends it."""
    text = '첫 문단입니다.\n둘째 문단: "따옴표"와 1:2 같은 것도 들어 있다.'
    stream = '1:I[123,[],"Nav"]\n2:HL["/a.css","style"]\n' + _text_row("3", text) + _rows(("4", ["x", "$3"]))
    rows = parse_rows(flight_payload(load_html(_page(stream))) or b"")
    assert rows == {3: text, 4: ["x", "$3"]}


def test_bootstrap_binary_and_form_state_segments() -> None:
    """[0] starts the stream over, [3, base64] carries bytes, [2, ...] is form state and ignored."""
    rows = _rows(("1", _el("p", "from a binary segment")))
    scripts = (
        _push([1, _rows(("9", "before the bootstrap"))])
        + _BOOTSTRAP
        + _push([2, None])
        + _push([3, base64.b64encode(rows.encode()).decode()])
        + _push([1, _rows(("2", "text"))])
    )
    tree = load_html(f"<html><body>{scripts}</body></html>")
    assert parse_rows(flight_payload(tree) or b"") == {1: _el("p", "from a binary segment"), 2: "text"}


def test_pages_without_flight_data() -> None:
    assert read_flight(load_html("<html><body><script>var a = 1;</script><p>x</p></body></html>")) is None


def test_article_paragraphs_win_over_navigation_rankings_and_related_summaries() -> None:
    menu = _el(
        "nav",
        _el("ul", [_el("li", _el("a", f"메뉴 항목 {n}번 바로가기", href=f"/s/{n}")) for n in range(40)]),
    )
    ranking = _el(
        "ol", [_el("li", _el("a", f"많이 본 뉴스 {n}위 기사의 제목은 이렇게 길 수 있다")) for n in range(10)]
    )
    summaries = [
        [_el("strong", f"관련 기사 {n}"), _el("p", f"관련 기사 {n}의 요약은 본문이 아니다. " * 4)]
        for n in range(6)
    ]
    related = _el("ul", [_el("li", _el("a", summary)) for summary in summaries])
    body = _el(
        "div",
        [_el("p", ["정부는 ", _el("strong", "28일"), " 방안을 발표했다. " + _LONG]), "$L5", _el("p", "$6")],
        className="article_body",
    )
    stream = (
        _rows(("3", "$Sreact.suspense"))
        + _text_row("6", "마지막 문단이다. " * 80)
        + _rows(
            (
                "0",
                _el(
                    "html",
                    _el("body", [menu, _el("main", _el("$3", body, fallback=_el("p", "로딩 중"))), ranking]),
                ),
            ),
            ("5", [_el("p", "지연된 문단이다. " + _LONG), _el("$L7", None, slot="ad")]),
            ("8", _el("section", [_el("h2", "관련 뉴스"), related])),
        )
    )
    flight = _flight(stream)
    text = embedded_body(load_html("<html><body></body></html>"), [], flight.bodies)
    lines = text.split("\n")
    assert lines[0].startswith("정부는 28일 방안을 발표했다. 산업통상자원부는")
    assert lines[1].startswith("지연된 문단이다.")
    assert lines[2].startswith("마지막 문단이다.") and len(lines) == 3
    for boilerplate in ("메뉴", "많이 본", "관련", "로딩"):
        assert boilerplate not in text


def test_page_furniture_is_never_a_body() -> None:
    """A footer's address and copyright lines are paragraphs too, and can outgrow a short article."""
    footer = _el(
        "footer", [_el("p", "(주)한울뉴스 | 서울특별시 중구 세종대로 000 | 대표전화 02-000-0000 " * 3)] * 3
    )
    flight = _flight(_rows(("0", _el("body", [_el("main", _el("p", "짧은 기사다.")), footer]))))
    assert flight.bodies == []


def test_references_escapes_and_paths() -> None:
    """`$$` is a literal dollar, `$5:props:children` a path into row 5, `$undefined` nothing."""
    stream = _rows(
        ("5", _el("p", "경로로 가리킨 문단이다. " + _LONG)),
        (
            "0",
            _el(
                "div",
                [_el("p", ["$$7만 달러를 넘었다. ", "$undefined", _LONG]), _el("p", "$5:props:children")],
            ),
        ),
    )
    bodies = _flight(stream).bodies
    assert "<p>$7만 달러를 넘었다. " + _LONG + "</p><p>경로로 가리킨 문단이다. " + _LONG + "</p>" in bodies


def test_text_between_br_tags_is_a_body() -> None:
    children = [_LONG, _el("br"), _el("br"), "둘째 문단. " + _LONG, _el("br"), _el("br"), "셋째 문단."]
    bodies = _flight(_rows(("0", _el("div", children)))).bodies
    assert f"<p>{_LONG}</p><p>둘째 문단. {_LONG}</p><p>셋째 문단.</p>" in bodies


def test_inner_html_and_client_component_props_are_bodies() -> None:
    html = "<p>" + _LONG + "</p>" * 1 + "<p>본문은 CMS가 만든 HTML이다.</p>" * 30
    stream = _text_row("4", html) + _rows(
        ("0", [_el("div", None, dangerouslySetInnerHTML={"__html": "$4"}), "$L6"]),
        (
            "6",
            _el(
                "$L2",
                None,
                article={"title": "제목", "content": "<p>" + "클라이언트 본문이다. " * 40 + "</p>"},
            ),
        ),
    )
    bodies = _flight(stream).bodies
    assert html in bodies
    assert any(body.startswith("<p>클라이언트 본문이다.") for body in bodies)


def test_title_and_dates() -> None:
    """The first <h1> outside Next.js's not-found view; date lines with a time, <time dateTime>, meta tags."""
    header = _el(
        "header",
        [
            _el("h1", "기사 제목이다"),
            _el("span", ["입력 ", _el("time", "2024.05.28 14:03", dateTime="2024-05-28T14:03:00+09:00")]),
            _el("span", ["수정 ", _el("time", "2024.05.28 16:20", dateTime="$D2024-05-28T07:20:00.000Z")]),
        ],
    )
    router = _el("$L4", None, notFound=[_el("h1", "404")], segmentPath=["children"])
    footer = _el("footer", _el("p", "등록일자 2019.04.02 | 발행인 홍길동"))
    meta = ["$", "meta", "0", {"property": "article:published_time", "content": "2024-05-28T05:03:00Z"}]
    flight = _flight(_rows(("0", _el("body", [router, header, footer])), ("1", [meta])))
    assert flight.title == "기사 제목이다"
    assert flight.dates == [
        "2024-05-28T05:03:00Z",
        "2024.05.28 14:03",
        "2024-05-28T14:03:00+09:00",
        "2024-05-28T07:20:00.000Z",
    ]


def _timed(stream: str, limit: float = 3.0) -> FlightArticle:
    started = time.perf_counter()
    flight = _flight(stream)
    assert time.perf_counter() - started < limit
    return flight


def test_reference_fan_out_is_capped() -> None:
    """Each row refers twice to the next: 2**40 paths if followed naively."""
    rows = [(f"{n:x}", [f"$L{n + 1:x}", f"$L{n + 1:x}"]) for n in range(40)]
    _timed(_rows(*rows, ("28", _el("p", "바닥"))))


def test_reference_cycles_and_deep_chains_end() -> None:
    chain = [(f"{n:x}", _el("div", f"$L{n + 1:x}")) for n in range(5000)]
    _timed(_rows(("0", _el("p", ["$L0", "$L0"]))))
    _timed(_rows(*chain))


def test_deep_json_and_bad_rows_are_skipped() -> None:
    deep = "0:" + "[" * 100_000 + "]" * 100_000 + "\n"
    junk = 'zz:not a row\n1:{"broken\n4:["$","p",null,{"children":"cut short'
    assert _timed(deep + junk + "\n" + _rows(("3", _el("h1", "제목")))).title == "제목"
    # A text row claiming 4 GB takes the rest of the payload, as it does in React.
    assert _timed(_rows(("3", _el("h1", "제목"))) + "5:Tffffffff,short" + junk).title == "제목"


def test_payload_is_capped() -> None:
    chunk = _rows(("1", _el("p", "a" * 1_000_000)))
    scripts = _BOOTSTRAP + _push([1, chunk]) * 6
    payload = flight_payload(load_html(f"<html><body>{scripts}</body></html>"))
    assert payload is not None and len(payload) <= _MAX_PAYLOAD
