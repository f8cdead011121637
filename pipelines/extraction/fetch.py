"""A page for `extract` and `explain`: from a file (gzipped or not) or fetched from a URL."""

from __future__ import annotations

import gzip
import urllib.request
from pathlib import Path


class PageUnavailable(Exception):
    """The page could not be read; `missing` is true for a file that is not there (a usage error)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def read_page(target: str, user_agent: str = "newswatch/0.1") -> tuple[bytes, str, str | None]:
    """(body, URL, Content-Type) of a page: a file's URL is file://, and it has no Content-Type."""
    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": user_agent})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read(), response.geturl(), response.headers.get("Content-Type")
        except OSError as exc:
            raise PageUnavailable(f"{target}: could not fetch: {exc}") from None
    path = Path(target)
    if not path.is_file():
        raise PageUnavailable(f"{target}: no such file (give a file path or an http(s) URL)",
                              missing=True)
    body = path.read_bytes()
    if path.suffix == ".gz":
        body = gzip.decompress(body)
    return body, path.resolve().as_uri(), None
