"""`newswatch demo`: one whole cycle offline, on bundled sample pages served on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

DEMO_PAGES = files("crawler").joinpath("data/demo")


def _routes() -> dict[str, dict[str, Any]]:
    manifest = json.loads(DEMO_PAGES.joinpath("manifest.json").read_text("utf-8"))
    return {entry["url"]: entry for entry in manifest}


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        entry = self.routes.get(self.path) or self.routes.get(parts.path)
        if entry is None or (entry["url"] != self.path and not entry.get("ignore_query")):
            self.send_error(404)
            return
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        page = gzip.decompress(DEMO_PAGES.joinpath(entry["file"]).read_bytes())
        body = page.replace(b"{base}", base.encode())
        self.send_response(entry.get("status", 200))
        self.send_header("Content-Type", entry["content_type"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the crawl logs what it fetched; the demo server stays quiet


@contextmanager
def serve_demo_site() -> Iterator[str]:
    """The bundled sample portal on a free port of 127.0.0.1; yields its base URL."""
    handler = type("DemoHandler", (_Handler,), {"routes": _routes()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def demo_config(base: str, folder: Path) -> str:
    """A config for the sample portal: SQLite and the outbox inside `folder`."""
    return f"""# written by `newswatch demo`
[database]
url = "sqlite:///{folder / 'newswatch.db'}"

[crawl]
download_delay = 0
cache_dir = "{folder / 'httpcache'}"

[[sources]]
name = "newsbell (ko, RSS)"
feed = "{base}/kr/rss.xml"
language = "ko"

[[sources]]
name = "hangyeol (ko, EUC-KR listing)"
listing = "{base}/euckr/list"
links = "a.headline"
next = "a.next"
max_pages = 3
language = "ko"

[[sources]]
name = "northbridge (en, Atom)"
feed = "{base}/en/atom.xml"
language = "en"

[[sources]]
name = "global-wire (en, news sitemap)"
sitemap = "{base}/news/sitemap_index.xml"
language = "en"

[digest]
to = ["you@example.org"]
from = "newswatch-demo@example.org"
outbox = "{folder / 'outbox'}"
"""
