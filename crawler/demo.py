"""`newswatch demo`: one whole cycle offline, on bundled sample pages served on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
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


def run_demo(where: Path, echo: Callable[[str], None], progress: bool = False) -> Path:
    """One whole cycle on the bundled pages, in `where`: crawl, flag, store, write the digest.

    Says what it did through `echo`; returns the config it wrote there.
    """
    from crawler.config import load_config
    from crawler.service import crawl_once
    from pipelines.digest.daily import preview_digest, send_pending
    from pipelines.output.report import render
    from pipelines.storage.health import attention
    from pipelines.storage.queries import story_matches
    from pipelines.storage.store import Store

    where.mkdir(parents=True, exist_ok=True)
    config_path = where / "newswatch.toml"
    with serve_demo_site() as base:
        config_path.write_text(demo_config(base, where), encoding="utf-8")
        config = load_config(config_path)
        echo(f"Serving the sample portal at {base}; crawling {len(config.sources)} sources…")
        results = crawl_once(config, progress=progress)
    echo(render([r.to_json() for r in results], "table",
                ["source", "status", "new_articles", "skipped", "failures"]))
    store = Store.open(config.database_url)
    with store.session() as session:
        found = story_matches(session)
    echo(f"\n{len(found)} stories matched a topic:")
    echo(render([{**r.to_json(), "also_in": [p["source"] for p in r.also_in]} for r in found],
                "table", ["id", "score", "source", "title", "also_in"]))
    notes = attention(store, config)
    html = where / "digest.html"
    html.write_text(preview_digest(store, config.digest, attention=notes).html, encoding="utf-8")
    sent = send_pending(store, config.digest, base_dir=config.base_dir, attention=notes, backoff=0)
    store.close()
    echo("")
    for result in sent:
        echo(f"digest: {result}")
    echo(f"\nEverything is in {where}:\n  config    {config_path}\n"
         f"  database  {where / 'newswatch.db'}\n  digest    {where / 'outbox'} (.eml), "
         f"{html} (open in a browser)\n"
         f"Look around: newswatch --config {config_path} matches | show ID | sources")
    return config_path
