"""Read the article out of a Next.js App Router page's React Server Components ("flight") data.

App Router pages stream their component tree as `self.__next_f.push([1, "..."])` script chunks.
When the article is rendered on the client (a bail-out to client rendering, a client-only
component), the HTML is a shell and only this data holds the text. Joined, the chunks are the
RSC wire format: rows `<hex id>:<payload>\\n`, where a payload is JSON (React elements are
`["$", type, key, props]`), a tagged line (`I` client modules, `HL` hints, `E` errors) or a text
row `<id>:T<hex byte length>,<text>` with no newline after it. Strings starting with `$` refer
to other rows (`$L5`, `$5`, `$5:props:children`); `$$` escapes a literal dollar.

A page may send megabytes or absurd nesting: the payload, the rows, the nodes visited (references
can fan out) and the depth are all capped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from typing import Any

from lxml.html import HtmlElement

from pipelines.extraction.embedded import MIN_BODY, html_text, state_bodies

_MAX_PAYLOAD = 4 * 1024 * 1024  # bytes of flight data read; a news page sends well under 1 MB
_MAX_ROWS = 50_000  # a long article page has a few hundred
_MAX_NODES = 200_000  # values visited, each reference followed counting again (~25 per KB of payload)
_MAX_EXPANSIONS = 8  # a row referred to more often is not read again: references can fan out 2**n
_MAX_DEPTH = 200  # nested lists, elements and references; well within Python's recursion limit
_MAX_DATE_LINE = 120  # only short texts are searched for a date line

_PUSH = re.compile(r"\.push\(\s*(\[.*\])\s*\)", re.DOTALL)
_ROW_ID = re.compile(rb"([0-9a-f]{1,8}):")
# Rows whose length is given in bytes: T (text) and binary typed arrays. Their content may hold
# newlines, so they cannot be split on them.
_SIZED_ROW = re.compile(rb"([A-Za-z])([0-9a-f]{1,8}),")
_REFERENCE = re.compile(r"\$[L@]?([0-9a-f]{1,8})((?::[^:]+)*)")

# Props that hold other pages' trees (Next.js's not-found and error views, loading skeletons).
_NOT_RENDERED = frozenset(
    {"notFound", "forbidden", "unauthorized", "template", "error", "errorStyles", "errorScripts",
     "templateStyles", "templateScripts", "loading", "fallback"}
)  # fmt: skip
_NO_TEXT = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "title", "meta", "link", "button",
     "select", "option", "textarea", "input", "iframe", "video", "audio", "canvas", "object"}
)  # fmt: skip
_BLOCK = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "ul", "ol", "li",
     "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "figure", "figcaption", "table", "tr", "td",
     "th", "dl", "dt", "dd", "pre", "hr", "address", "details", "summary", "form"}
)  # fmt: skip
# Page furniture: paragraphs inside are never a body (a footer's address and copyright lines add up).
_FURNITURE = frozenset({"header", "footer", "nav", "aside", "form"})
# Children that are paragraphs of a body. List items are not: ranking and menu lists are made of them.
_PARAGRAPH = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})
# "입력 2024.05.28 14:03", up to the minute: only lines with a time of day count, since footers print
# the paper's registration day ("등록일자 2019.04.02"); modified, 수정, is left out, as in extract.py.
_DATE_LINE = re.compile(
    r"(?:입력|등록|게재|송고|[Pp]ublished|[Pp]osted)(?:\s*(?:일시|일자|시간|일))?\s*[:：]?\s*"
    r"(\d{4}\s*[.\-/년]\s*\d{1,2}\s*[.\-/월]\s*\d{1,2}\s*[.일]?\s*(?:\([월화수목금토일]\)\s*)?"
    r"(?:오전|오후|AM|PM)?\s*\d{1,2}\s*[:시]\s*\d{1,2})"
)
_META_DATES = frozenset({"article:published_time", "og:article:published_time", "datepublished", "pubdate"})


@dataclass
class FlightArticle:
    """What a page's flight data says about its article.

    `bodies` are candidates for embedded_body, as HTML fragments: the paragraphs of each element,
    the inner HTML of elements that set it, bodies in client components' props. `dates` come in
    order of trust: meta tags, labelled date lines, then <time dateTime>.
    """

    bodies: list[str] = field(default_factory=list)
    title: str | None = None
    dates: list[str] = field(default_factory=list)


def read_flight(tree: HtmlElement) -> FlightArticle | None:
    """The article as the page's flight data renders it; None when the page sends none."""
    payload = flight_payload(tree)
    if not payload:
        return None
    return _Walk(parse_rows(payload)).article()


def flight_payload(tree: HtmlElement) -> bytes | None:
    """The bytes the page pushes to `self.__next_f`, in order, as the client feeds them to React.

    `[0]` starts the stream, `[1, text]` carries text (UTF-8 on the wire: text row lengths count
    bytes), `[2, ...]` form state, `[3, base64]` binary data.
    """
    chunks: list[bytes] = []
    size = 0
    found = False
    for script in tree.iter("script"):
        source = script.text or ""
        if "__next_f" not in source or (match := _PUSH.search(source)) is None:
            continue
        found = True
        data = _segment(match.group(1))
        if data is None:
            chunks, size = [], 0  # bootstrap
            continue
        if size + len(data) > _MAX_PAYLOAD:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks) if found else None


def _segment(literal: str) -> bytes | None:
    """The bytes of one pushed segment; None for the bootstrap `[0]`, b"" for what holds no data."""
    try:
        segment = json.loads(literal)
    except (ValueError, RecursionError):
        return b""
    if not isinstance(segment, list) or not segment:
        return b""
    kind, value = segment[0], segment[1] if len(segment) > 1 else None
    if isinstance(kind, bool):
        return b""
    if kind == 0:
        return None
    if kind == 1 and isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if kind == 3 and isinstance(value, str):
        try:
            return base64.b64decode(value)
        except (binascii.Error, ValueError):
            return b""
    return b""


def parse_rows(data: bytes) -> dict[int, Any]:
    """Rows by id: JSON models parsed, text rows as str; module, hint and error rows left out."""
    rows: dict[int, Any] = {}
    pos = 0
    while pos < len(data) and len(rows) < _MAX_ROWS:
        row = _ROW_ID.match(data, pos)
        if row is None:  # junk, or a row cut short by the payload cap: resume at the next line
            newline = data.find(b"\n", pos)
            if newline < 0:
                break
            pos = newline + 1
            continue
        start = row.end()
        sized = _SIZED_ROW.match(data, start)
        if sized is not None:
            end = sized.end() + int(sized.group(2), 16)
            if sized.group(1) == b"T":
                rows[int(row.group(1), 16)] = data[sized.end() : end].decode("utf-8", "replace")
            pos = end
            continue
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        pos = end + 1
        first = data[start : start + 1]
        if first.isalpha() and first not in b"tfn":  # a tag, not JSON's true/false/null
            continue
        try:
            rows[int(row.group(1), 16)] = json.loads(data[start:end])
        except (ValueError, RecursionError):
            continue
    return rows


def _is_element(node: list[Any]) -> bool:
    return len(node) >= 4 and node[0] == "$" and isinstance(node[1], str)


def _props(node: list[Any]) -> dict[str, Any]:
    return node[3] if isinstance(node[3], dict) else {}


class _Walk:
    """One pass over the rows, rendering text as React would and noting what the article needs."""

    def __init__(self, rows: dict[int, Any]) -> None:
        self._rows = rows
        self._budget = _MAX_NODES
        self._seen: set[int] = set()
        self._expansions: Counter[str] = Counter()
        self._bodies: dict[str, None] = {}  # ordered and without repeats
        self._title: str | None = None
        self._metas: list[str] = []
        self._lines: list[str] = []
        self._times: list[str] = []
        self._furniture = 0  # how many furniture elements the walk is inside

    def article(self) -> FlightArticle:
        """Walk the root row first, then every row that nothing walked so far referred to."""
        order = sorted(self._rows, key=lambda row_id: row_id != 0)
        for row_id in order:
            if row_id not in self._seen and self._budget > 0:
                self._seen.add(row_id)
                self._render(self._rows[row_id], 0)
        dates = dict.fromkeys(self._metas + self._lines + self._times)  # in order, without repeats
        return FlightArticle(list(self._bodies), self._title, list(dates))

    def _render(self, value: Any, depth: int) -> str:
        """Text of a children value; notes its paragraphs as a candidate body when long enough."""
        out: list[str] = []
        parts: list[tuple[bool, str]] = []  # (is a paragraph element, text) in document order
        run: list[str] = []  # inline text since the last block
        breaks = 0
        for tag, node in self._items(value, depth):
            text = self._element(node, tag, depth + 1) if tag else self._leaf(node)
            out.append(text)
            if tag in _PARAGRAPH or tag in _BLOCK or tag == "br":
                parts.append((False, "".join(run)))
                run = []
                breaks += tag == "br"
                if tag in _PARAGRAPH:
                    parts.append((True, text))
            else:
                run.append(text)
        parts.append((False, "".join(run)))
        # Bare text between <br> tags is a body too (older Korean CMSs), but not a menu's link run.
        paragraphs = [text.strip() for is_p, text in parts if is_p or breaks >= 2]
        self._note_body(paragraphs)
        return "".join(out)

    def _items(self, value: Any, depth: int) -> Iterator[tuple[str, Any]]:
        """Host elements (tag, node) and text leaves ("", value) of a children value, in order.

        Lists, references, fragments, Suspense boundaries and client components are looked
        through: their children render in place.
        """
        if self._budget <= 0 or depth > _MAX_DEPTH:
            return
        self._budget -= 1
        if isinstance(value, str) and value.startswith("$") and not value.startswith("$$"):
            target = self._resolve(value)
            if target is not None:
                yield from self._items(target, depth + 1)
        elif isinstance(value, list) and _is_element(value):
            if value[1].startswith("$"):
                props = _props(value)
                self._component(props, depth)
                yield from self._items(props.get("children"), depth + 1)
            else:
                yield value[1].lower(), value
        elif isinstance(value, list):
            for item in value:
                yield from self._items(item, depth + 1)
        elif isinstance(value, dict):  # router state, outlined props: walked for elements only
            self._walk_object(value, depth)
        else:
            yield "", value

    def _element(self, node: list[Any], tag: str, depth: int) -> str:
        """Text of a host element, on lines of its own if it is a block."""
        if tag in _NO_TEXT:
            if tag == "meta":
                self._note_meta(_props(node))
            return ""
        props = _props(node)
        inner_html = self._inner_html(props)
        if inner_html is not None:
            self._bodies.setdefault(inner_html)
            inner = html_text(inner_html)
        else:
            self._furniture += tag in _FURNITURE
            inner = self._render(props.get("children"), depth + 1)
            self._furniture -= tag in _FURNITURE
        self._note(tag, props, inner)
        if tag == "br":
            return "\n"
        return f"\n{inner}\n" if tag in _BLOCK else inner

    def _leaf(self, value: Any) -> str:
        if isinstance(value, str):
            return value[1:] if value.startswith("$$") else value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # React renders numbers, not booleans or null
        return ""

    def _resolve(self, reference: str) -> Any:
        """The value a `$` string refers to; None for symbols, dates, `$undefined` and the like."""
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            return None
        self._expansions[reference] += 1
        if self._expansions[reference] > _MAX_EXPANSIONS:
            return None
        row_id = int(match.group(1), 16)
        if row_id not in self._rows:
            return None
        self._seen.add(row_id)
        node = self._rows[row_id]
        for key in match.group(2).split(":")[1:]:  # `$5:props:children:0`: a path into the row
            node = _step(node, key)
        return node

    def _inner_html(self, props: dict[str, Any]) -> str | None:
        inner = props.get("dangerouslySetInnerHTML")
        html = inner.get("__html") if isinstance(inner, dict) else None
        if isinstance(html, str) and html.startswith("$") and not html.startswith("$$"):
            html = self._resolve(html)  # long strings come as text rows
        return html if isinstance(html, str) else None

    def _component(self, props: dict[str, Any], depth: int) -> None:
        """Search a client component's props for a body, and render elements passed as props."""
        for key, value in props.items():
            if key != "children" and key not in _NOT_RENDERED and isinstance(value, list | dict):
                self._render(value, depth + 1)
        data = self._data({k: v for k, v in props.items() if k != "children"}, depth + 1)
        for body in state_bodies(data):
            self._bodies.setdefault(body)

    def _data(self, value: Any, depth: int) -> Any:
        """A copy of props data with references replaced by what they refer to, elements left out."""
        if self._budget <= 0 or depth > _MAX_DEPTH:
            return None
        self._budget -= 1
        if isinstance(value, str):
            if not value.startswith("$") or value.startswith("$$"):
                return value[1:] if value.startswith("$$") else value
            target = self._resolve(value)
            return target if isinstance(target, str) else self._data(target, depth + 1)
        if isinstance(value, list):
            return None if _is_element(value) else [self._data(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {k: self._data(v, depth + 1) for k, v in value.items() if k not in _NOT_RENDERED}
        return value

    def _walk_object(self, value: dict[str, Any], depth: int) -> None:
        for key, item in value.items():
            if key not in _NOT_RENDERED and isinstance(item, list | dict):
                self._render(item, depth + 1)

    def _note_body(self, paragraphs: list[str]) -> None:
        paragraphs = [p for p in paragraphs if p]
        if not self._furniture and sum(len(p) for p in paragraphs) >= MIN_BODY:
            self._bodies.setdefault("".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs))

    def _note(self, tag: str, props: dict[str, Any], inner: str) -> None:
        """Title and dates: the first <h1>, labelled date lines, <time dateTime>."""
        if tag == "h1" and self._title is None and inner.strip():
            self._title = " ".join(inner.split())
        elif tag == "time" and isinstance(stamp := props.get("dateTime") or props.get("datetime"), str):
            self._times.append(stamp.removeprefix("$D"))
        if len(inner) <= _MAX_DATE_LINE and (match := _DATE_LINE.search(inner)):
            self._lines.append(" ".join(match.group(1).split()))

    def _note_meta(self, props: dict[str, Any]) -> None:
        key = props.get("property") or props.get("name") or props.get("itemProp")
        content = props.get("content")
        if isinstance(key, str) and key.lower() in _META_DATES and isinstance(content, str):
            self._metas.append(content)


def _step(node: Any, key: str) -> Any:
    """One step of a reference path; `props`, `type` and `key` name parts of an element."""
    if isinstance(node, list) and node and node[0] == "$" and len(node) >= 4:
        node = {"type": node[1], "key": node[2], "props": node[3]}
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return None
