"""Shared pieces of the fixture-page generator: the Page record, data loading, escaping, dates."""

from __future__ import annotations

import html
import json
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"

# Placeholder the server swaps for "http://127.0.0.1:PORT" when it serves a page, so that every
# absolute link points back at the running portal whatever port it got.
BASE = "{base}"

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"
HTML_UTF8 = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@dataclass
class Page:
    """One URL of the portal and the bytes it answers with.

    `url` is the path (with query) a request must ask for. A URL with a `#fragment` can never be
    requested: it names an alternate body that a server behavior swaps in (the changed feed).
    `last_modified` set means the response carries ETag/Last-Modified and honours conditional GET.
    `file` is None for pages built at serve time (the 12 MB article).
    """

    url: str
    kind: str
    content_type: str
    body: bytes
    file: str | None
    status: int = 200
    last_modified: str | None = None
    behavior: str | None = None
    ignore_query: bool = True
    note: str = ""

    def manifest_entry(self) -> dict[str, Any]:
        entry = asdict(self)
        del entry["body"]
        return dict(sorted(entry.items()))


def load_data(name: str) -> dict[str, Any]:
    with (DATA_DIR / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def json_script(data: Any) -> str:
    """JSON for an inline <script>: `</` is escaped so the text cannot close the script element."""
    return json.dumps(data, ensure_ascii=False, indent=None).replace("</", "<\\/")


def http_date(iso: str) -> str:
    """RFC 9110 HTTP-date (always GMT) for an ISO-8601 timestamp with offset."""
    return format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def rfc822(iso: str) -> str:
    """RSS pubDate keeping the timestamp's own offset, e.g. `Tue, 28 May 2024 10:30:00 +0900`."""
    return format_datetime(datetime.fromisoformat(iso))


def encode_legacy(text: str, encoding: str) -> bytes:
    """Encode Korean text in a legacy code page, refusing characters the code page lacks.

    Python's euc_kr codec quietly writes syllables missing from KS X 1001 as 8-byte jamo
    "make-up" sequences that real EUC-KR sites never send; such a character in an EUC-KR
    fixture would be a fixture bug, so it is an error here.
    """
    for ch in set(text):
        if len(ch.encode(encoding)) > 2:
            raise ValueError(f"{ch!r} has no 2-byte {encoding} code; rewrite the fixture text")
    return text.encode(encoding)


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
