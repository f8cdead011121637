"""A web view to test against: the local portal crawled into a real database (with a hostile page
whose title carries a <script>), a digest sent to the outbox with signed links, and
`newswatch web` serving it on 127.0.0.1 in a child process."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import newswatch, write_config
from tests.portal.server import PAGES_DIR, Portal

SECRET = "test-secret-for-the-web-view"
TOPIC = "ai-research-policy"
HOSTILE_TITLE = "<script>document.title='pwned'</script> Australia funds AI research institutes"
ORIGINAL_TITLE = "Australia commits A$180m to four national AI research institutes"


@dataclass
class Site:
    """What the tests need: the config, the server's URL, the mailed digest's two parts."""

    folder: Path
    config: Path
    url: str
    digest_text: str
    digest_html: str
    hostile_url: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_WEB_")}
    env["NEWSWATCH_WEB_SECRET"] = SECRET
    env.update(extra)
    return env


def crawl_portal(folder: Path, portal: Portal, port: int) -> tuple[Path, str]:
    """Crawl the Korean RSS feed, the news sitemap and a hostile feed; returns the config and
    the hostile article's URL."""
    page = (PAGES_DIR / "en/article/australia-ai-research-institutes.html").read_text("utf-8")
    escaped = HOSTILE_TITLE.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    page = (page.replace(ORIGINAL_TITLE, escaped)
            .replace("{base}/en/article/australia-ai-research-institutes", "{base}/hostile/story"))
    hostile = portal.serve("/hostile/story", page)
    feed = portal.serve("/hostile/feed.xml", (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Hostile</title>'
        "<link>{base}/</link><item><title>x</title><link>{base}/hostile/story</link>"
        "<pubDate>Tue, 28 May 2024 01:00:00 GMT</pubDate></item></channel></rss>"),
        "application/rss+xml")
    config = write_config(folder, [
        {"name": "kr", "feed": portal.url_for("/kr/rss.xml"), "language": "ko"},
        {"name": "wire", "sitemap": portal.url_for("/news/sitemap_index.xml"), "language": "en"},
        {"name": "hostile", "feed": feed, "language": "en"},
    ], web={"base_url": f"http://127.0.0.1:{port}", "port": port})
    newswatch(config, "crawl")
    return config, hostile


def send_digest(config: Path) -> tuple[str, str]:
    """`digest --send` to the outbox, with the web secret: its plain-text and HTML parts."""
    result = subprocess.run([sys.executable, "-m", "scheduler", "--config", str(config), "digest",
                             "--send"], capture_output=True, text=True, env=environment(),
                            cwd=config.parent, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (mail,) = sorted((config.parent / "outbox").glob("*.eml"))
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    parts = {p.get_content_type(): p.get_content() for p in message.iter_parts()}
    return parts["text/plain"], parts["text/html"]


@contextmanager
def serving(config: Path, port: int, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """`newswatch web` in a child process until the block ends; waits until it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "web", "--port", str(port),
         *args], cwd=config.parent, env=environment(**env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"newswatch web exited {process.returncode}: "
                                     f"{process.stderr.read() if process.stderr else ''}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/static/web.css", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("newswatch web did not answer within 30 s") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_site(folder: Path, portal: Portal) -> tuple[Site, int]:
    port = free_port()
    config, hostile = crawl_portal(folder, portal, port)
    text, html = send_digest(config)
    return Site(folder, config, f"http://127.0.0.1:{port}", text, html, hostile), port
