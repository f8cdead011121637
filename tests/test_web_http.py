"""`newswatch web` over real HTTP (uvicorn on 127.0.0.1, a database filled by a crawl of the
local portal): the API returns what the CLI's `--format json` prints, forms need their CSRF
token, a password guards the view, and a non-loopback bind without one exits 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import feedparser
import httpx
import pytest

from pipelines.digest.links import IRRELEVANT, sign
from tests.conftest import newswatch
from tests.portal.server import Portal
from tests.waiting import stop
from tests.web_site import SECRET, TOPIC, Site, build_site, environment, free_port, serving


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, portal: Portal) -> Iterator[Site]:
    built, port = build_site(tmp_path_factory.mktemp("web-http"), portal)
    with serving(built.config, port):
        yield built


def cli_json(site: Site, *args: str) -> object:
    return json.loads(newswatch(site.config, *args, "--format", "json").stdout)


def test_api_matches_is_the_cli_json(site: Site) -> None:
    for query, args in [("", ()), ("?source=kr", ("--source", "kr")),
                        ("?search=research&since=30d", ("--search", "research", "--since", "30d")),
                        ("?limit=2&offset=1", ("--limit", "2", "--offset", "1"))]:
        api = httpx.get(f"{site.url}/api/matches{query}")
        assert api.status_code == 200 and api.headers["content-type"].startswith("application/json")
        assert api.json() == cli_json(site, "matches", *args), f"/api/matches{query}"
    assert len(api.json()) == 2
    assert {row["source"] for row in httpx.get(f"{site.url}/api/matches?source=kr").json()} == {"kr"}


def test_api_article_and_sources_are_the_cli_json(site: Site) -> None:
    first = httpx.get(f"{site.url}/api/matches").json()[0]["id"]
    assert httpx.get(f"{site.url}/api/articles/{first}").json() == cli_json(site, "show", str(first))
    assert httpx.get(f"{site.url}/api/articles/999999").status_code == 404
    api = httpx.get(f"{site.url}/api/sources").json()
    cli = cli_json(site, "sources")
    volatile = {"why", "interval"}  # the poll interval counts down with the clock
    assert [{k: v for k, v in row.items() if k not in volatile} for row in api] == [
        {k: v for k, v in row.items() if k not in volatile} for row in cli]
    assert [row["name"] for row in api] == ["kr", "wire", "hostile"]


def test_posts_without_the_csrf_token_are_refused(site: Site) -> None:
    article = httpx.get(f"{site.url}/api/matches").json()[-1]["id"]
    with httpx.Client(base_url=site.url) as client:
        page = client.get(f"/articles/{article}")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"topic": TOPIC, "verdict": "relevant"}
        assert client.post(f"/articles/{article}/label", data=form).status_code == 403
        assert "CSRF" in client.post(f"/articles/{article}/label", data=form).text
        with httpx.Client(base_url=site.url) as stranger:  # another browser: another cookie
            assert stranger.post(f"/articles/{article}/label",
                                 data={**form, "csrf": token}).status_code == 403
        done = client.post(f"/articles/{article}/label", data={**form, "csrf": token})
        assert done.status_code == 303
    assert cli_json(site, "show", str(article))["labels"] == {TOPIC: True}  # type: ignore[index]


def test_the_digest_links_every_item_in_both_parts(site: Site) -> None:
    pages = re.findall(rf"{site.url}/articles/(\d+)", site.digest_text)
    tokens = re.findall(rf"{site.url}/d/(\S+)", site.digest_text)
    assert pages and len(tokens) == len(set(pages)), "each item: its page and its signed link"
    for token in tokens:
        assert f'{site.url}/d/{token}"' in site.digest_html
    answer = httpx.get(f"{site.url}/d/{unquote(tokens[0])}")
    assert answer.status_code == 200 and "Yes, not relevant" in answer.text


def test_the_archive_shows_the_digest_as_mailed(site: Site) -> None:
    listing = httpx.get(f"{site.url}/digests").text
    digest_id = re.search(r'href="/digests/(\d+)"', listing).group(1)  # type: ignore[union-attr]
    mail = httpx.get(f"{site.url}/digests/{digest_id}/mail.html")
    assert mail.text == site.digest_html
    assert "sandbox" in mail.headers["content-security-policy"]
    assert "script" not in mail.headers["content-security-policy"]
    assert httpx.get(f"{site.url}/digests/{digest_id}/mail.txt").text == site.digest_text


def test_the_atom_feed_lists_the_topics_stories(site: Site) -> None:
    feed = feedparser.parse(httpx.get(f"{site.url}/topics/{TOPIC}.atom").content)
    assert not feed.bozo, feed.bozo_exception
    titles = {entry.title for entry in feed.entries}
    assert titles == {row["title"] for row in httpx.get(f"{site.url}/api/matches?since=30d").json()}
    assert httpx.get(f"{site.url}/topics/nope.atom").status_code == 404


def test_an_expired_or_altered_link_is_refused(site: Site) -> None:
    article = httpx.get(f"{site.url}/api/matches").json()[0]["id"]
    expired = sign(SECRET.encode(), article, TOPIC, IRRELEVANT, datetime.now(UTC) - timedelta(1))
    assert "expired" in httpx.get(f"{site.url}/d/{expired}").text
    forged = sign(b"guessed", article, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(1))
    response = httpx.get(f"{site.url}/d/{forged}")
    assert response.status_code == 403 and "altered" in response.text


def test_a_password_guards_the_view_but_not_the_digest_links(site: Site) -> None:
    port = free_port()
    with serving(site.config, port, NEWSWATCH_WEB_PASSWORD="hunter2"):
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/matches").status_code == 401
        assert httpx.get(f"{url}/api/matches", auth=("x", "nope")).status_code == 401
        assert httpx.get(f"{url}/api/matches", auth=("reader", "hunter2")).status_code == 200
        token = re.findall(rf"{site.url}/d/(\S+)", site.digest_text)[0]
        assert httpx.get(f"{url}/d/{unquote(token)}").status_code == 200


def _web(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scheduler", "--config", str(config), "web", *args],
                          capture_output=True, text=True, env=environment(**env), timeout=60)


def test_a_non_loopback_bind_without_a_password_exits_2(site: Site) -> None:
    result = _web(site.config, "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2
    assert "NEWSWATCH_WEB_PASSWORD" in result.stderr and "trust_proxy_auth" in result.stderr
    assert "Traceback" not in result.stderr


def test_base_url_without_a_secret_exits_2_naming_it(site: Site) -> None:
    result = subprocess.run([sys.executable, "-m", "scheduler", "--config", str(site.config), "web",
                             "--port", str(free_port())], capture_output=True, text=True,
                            env={k: v for k, v in environment().items()
                                 if k != "NEWSWATCH_WEB_SECRET"}, timeout=60)
    assert result.returncode == 2 and "NEWSWATCH_WEB_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_daemon_serves_the_web_view_when_web_is_configured(tmp_path: Path,
                                                               portal: Portal) -> None:
    import time

    from tests.conftest import write_config

    port = free_port()
    config = write_config(tmp_path, [{"name": "kr", "feed": portal.url_for("/kr/rss.xml"),
                                      "language": "ko", "every": "1h"}],
                          web={"port": port}, crawl={"stop_grace_seconds": 3})
    daemon = subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "run"],
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=environment())
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/sources", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, "the daemon serves no web view"
        assert [row["name"] for row in answer.json()] == ["kr"]
        stderr = stop(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert f"web view at http://127.0.0.1:{port}" in stderr
