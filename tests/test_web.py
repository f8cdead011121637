"""The web view's routes through Starlette's test client, on a real database: escaping, links that
are never `javascript:`, CSRF, filters, signed digest links, the guard's headers and refusals.
The same pages in a real browser: tests/test_web_browser.py; over real HTTP: test_web_http.py."""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette 1.10 suggests httpx2 for its test client; httpx 0.28 (pinned) works the same.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from crawler.config import parse_config
from pipelines.digest.links import IRRELEVANT, BadToken, DigestLinks, sign, verify
from pipelines.digest.render import render_digest
from pipelines.output.web.app import build_app
from pipelines.output.web.highlight import highlight
from pipelines.output.web.security import CSP, bind_problem
from pipelines.storage.queries import story_matches
from pipelines.storage.store import Store

# The routes read and label through the store: they must hold on PostgreSQL too (tests/databases.py).
pytestmark = pytest.mark.postgres

TOPIC = "ai-research-policy"
SECRET = b"unit-test-secret"
_serial = itertools.count(1)
REASONS = [{"feature": "ai", "evidence": "AI", "where": "title", "weight": 1.4},
           {"feature": "policy", "evidence": "R&D budget", "where": "lead", "weight": 0.8},
           {"feature": "business", "evidence": "earnings", "where": "body", "weight": -0.5}]


@dataclass
class Score:
    """What the classifier hands the store: the shape `Store.add_article` reads."""

    topic: str
    score: float
    reasons: list[dict[str, Any]] = field(default_factory=lambda: list(REASONS))
    matched: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "threshold": 0.5, "reasons": self.reasons}


@pytest.fixture
def store(migrated_url: str) -> Iterator[Store]:
    config = _config()
    store = Store.open(migrated_url)
    store.sync_sources(config.sources)
    yield store
    store.engine.dispose()


def _config(**web: Any) -> Any:
    return parse_config({"sources": [{"name": n, "feed": f"https://{n}.example/rss"}
                                     for n in ("etnews", "yonhap")],
                         "web": {"base_url": "http://news.test", **web}})


def add(store: Store, title: str, *, url: str | None = None, source: str = "etnews",
        score: float = 0.8, text: str | None = None) -> int:
    """Store an article matched for TOPIC; returns its id."""
    n = next(_serial)
    url = url or f"https://{source}.example/news/{n}"
    fields = {"source_id": store.source_id(source), "url": url, "canonical_url": f"{url}#{n}",
              "title": title, "text": text or "The R&D budget for AI grows. The ministry said so. " * 4,
              "fingerprint": f"fp-{n}", "language": "en",
              "published": datetime.now(UTC) - timedelta(hours=1)}
    stored = store.add_article(fields, scores=[Score(TOPIC, score)])
    assert stored is not None
    return stored.article_id


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = build_app(_config(), store, link_secret=SECRET, password=None)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page: templates must include csrf_field"
    return found.group(1)


def test_every_page_carries_the_csp_and_no_script(client: TestClient, store: Store) -> None:
    article = add(store, "AI plan")
    for path in ("/matches", f"/articles/{article}", "/sources", "/digests", "/explain"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert "script-src" not in CSP and "default-src 'none'" in CSP
        assert "<script" not in response.text, f"{path} serves a script"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_a_title_with_markup_is_escaped_everywhere(client: TestClient, store: Store) -> None:
    article = add(store, '<script>alert("x")</script><img src=x onerror=alert(1)> AI news')
    for path in ("/matches", f"/articles/{article}", f"/topics/{TOPIC}.atom"):
        body = client.get(path).text
        assert "<script>alert" not in body and "<img src=x" not in body, path
    api = client.get(f"/api/articles/{article}")  # JSON, never sniffed as HTML
    assert api.headers["content-type"].startswith("application/json")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get("/matches").text


def test_a_javascript_url_never_becomes_a_link(client: TestClient, store: Store) -> None:
    article = add(store, "AI sneaky", url="javascript:alert(document.cookie)")
    for path in ("/matches", f"/articles/{article}"):
        assert 'href="javascript:' not in client.get(path).text.lower(), path
    assert "javascript:alert(document.cookie)" in client.get(f"/articles/{article}").text


def test_judging_needs_the_csrf_token_and_calls_the_label_code(client: TestClient,
                                                               store: Store) -> None:
    article = add(store, "AI budget", score=0.9)
    page = client.get(f"/articles/{article}").text
    form = {"topic": TOPIC, "verdict": "irrelevant", "next": f"/articles/{article}"}
    assert client.post(f"/articles/{article}/label", data=form).status_code == 403
    assert client.post(f"/articles/{article}/label",
                       data={**form, "csrf": "0" * 64}).status_code == 403
    response = client.post(f"/articles/{article}/label", data={**form, "csrf": csrf_of(page)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert "before=0.90" in response.headers["location"]
    assert "after=none" in response.headers["location"]
    shown = client.get(response.headers["location"]).text
    assert "labelled irrelevant" in shown and "no longer a match" in shown
    with store.session() as session:
        assert story_matches(session) == [], "an irrelevant label must remove the match"


def test_judging_from_the_matches_page_returns_there_and_says_what_changed(
        client: TestClient, store: Store) -> None:
    article = add(store, "AI budget", score=0.75)
    here = "/matches?since=30d&judged=x&before=9"
    page = client.get(here).text
    response = client.post(f"/articles/{article}/label", data={
        "csrf": csrf_of(page), "topic": TOPIC, "verdict": "irrelevant", "next": here})
    assert response.url.path == "/matches" and response.url.params["since"] == "30d"
    assert response.url.params.get_list("before") == ["0.75"]
    assert f"#{article}</a> labelled not relevant for {TOPIC}: match score 0.75 → no longer a match" \
        in response.text
    assert 'class="row' not in response.text


def test_a_redirect_after_a_form_never_leaves_the_site(client: TestClient, store: Store) -> None:
    page = client.get("/matches").text
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.post("/matches/read", data={"csrf": csrf_of(page), "next": target},
                               follow_redirects=False)
        assert response.headers["location"] == "/matches", target


def test_bad_filters_are_refused_with_the_fix(client: TestClient, store: Store) -> None:
    assert "no source named &#39;nope&#39; (sources: etnews, yonhap)" in client.get(
        "/matches?source=nope").text
    assert client.get("/matches?since=soon").status_code == 400
    response = client.get("/api/matches?min_score=high")
    assert response.status_code == 400
    assert "min_score: 'high' is not a number" in response.json()["error"]


def test_filters_by_source_and_search(client: TestClient, store: Store) -> None:
    add(store, "AI plan from the ministry", source="etnews")
    add(store, "Budget for AI chips", source="yonhap",
        text="Chip subsidies: the R&D budget for AI semiconductors. " * 4)
    titles = [row["title"] for row in client.get("/api/matches?source=yonhap").json()]
    assert titles == ["Budget for AI chips"]
    titles = [row["title"] for row in client.get("/api/matches?search=semiconductor").json()]
    assert titles == ["Budget for AI chips"]
    page = client.get("/matches?source=yonhap").text
    assert "Budget for AI chips" in page and "AI plan from the ministry" not in page


def test_highlight_escapes_and_marks_whole_words() -> None:
    marked = highlight("The AI <b>plan</b> said: AI!", ["AI", "<b>"])
    assert str(marked) == ("The <mark>AI</mark> <mark>&lt;b&gt;</mark>plan&lt;/b&gt; said: "
                           "<mark>AI</mark>!")
    assert str(highlight("과기정통부는 인공지능을", ["인공지능"])) == "과기정통부는 <mark>인공지능</mark>을"


def test_the_article_page_marks_positive_evidence_only(client: TestClient, store: Store) -> None:
    article = add(store, "AI budget rises", text="The R&D budget grows; earnings fall. " * 3)
    page = client.get(f"/articles/{article}").text
    assert '<h1 id="title"><mark>AI</mark> budget rises</h1>' in page
    assert "<mark>R&amp;D budget</mark>" in page
    assert "<mark>earnings</mark>" not in page


def test_a_signed_link_allows_one_action_until_it_expires() -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    token = sign(SECRET, 7, TOPIC, IRRELEVANT, expires)
    action = verify(SECRET, token)
    assert (action.article_id, action.topic, action.action) == (7, TOPIC, IRRELEVANT)
    payload, _, mac = token.partition(".")
    forged = sign(b"another secret", 8, TOPIC, IRRELEVANT, expires).split(".")[0]
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-2]}AA", payload, "x.y"):
        with pytest.raises(BadToken):
            verify(SECRET, bad)
    with pytest.raises(BadToken, match="expired"):
        verify(SECRET, token, now=expires + timedelta(seconds=1))
    with pytest.raises(BadToken, match="another secret"):
        verify(b"rotated", token)


def test_the_digest_carries_page_and_signed_links_in_both_parts(store: Store) -> None:
    article = add(store, "AI budget <rises>")
    links = DigestLinks("http://news.test", SECRET, timedelta(days=30), datetime.now(UTC))
    with store.session() as session:
        rows = story_matches(session)
    content = render_digest(rows, day=datetime.now(UTC).date(), attention=[],
                            tz=UTC, empty_ok=False, links=links)  # type: ignore[arg-type]
    token = re.search(r"http://news\.test/d/([\w.%-]+)", content.text).group(1)  # type: ignore[union-attr]
    assert verify(SECRET, token).article_id == article
    assert f"http://news.test/articles/{article}" in content.text
    assert f'href="http://news.test/articles/{article}"' in content.html
    assert f'href="http://news.test/d/{token}"' in content.html
    no_secret = DigestLinks("http://news.test", None, timedelta(days=1), datetime.now(UTC))
    plain = render_digest(rows, day=datetime.now(UTC).date(), attention=[], tz=UTC,  # type: ignore[arg-type]
                          empty_ok=False, links=no_secret)
    assert "/articles/" in plain.text and "/d/" not in plain.text


def test_the_digest_link_confirms_applies_and_undoes(client: TestClient, store: Store) -> None:
    article = add(store, "AI institutes", score=0.85)
    token = sign(SECRET, article, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(days=1))
    page = client.get(f"/d/{token}")
    assert page.status_code == 200 and "Yes, not relevant" in page.text
    with store.session() as session:
        assert len(story_matches(session)) == 1, "a GET must not label (mail scanners follow links)"
    assert client.post(f"/d/{token}", data={}).status_code == 403
    done = client.post(f"/d/{token}", data={"csrf": csrf_of(page.text)})
    assert "labelled not relevant" in done.text and "0.85" in done.text
    form = dict(re.findall(r'name="(previous|mac)" value="([^"]*)"', done.text))
    assert form["previous"] == "none"
    tampered = client.post(f"/d/{token}/undo", data={"csrf": csrf_of(done.text),
                                                      "previous": "relevant", "mac": form["mac"]})
    assert tampered.status_code == 403
    undone = client.post(f"/d/{token}/undo", data={"csrf": csrf_of(done.text), **form})
    assert "back as it was" in undone.text
    with store.session() as session:
        assert [row.id for row in story_matches(session)] == [article]


def test_altered_and_expired_links_are_refused_with_a_page(client: TestClient, store: Store) -> None:
    article = add(store, "AI")
    expired = sign(SECRET, article, TOPIC, IRRELEVANT, datetime.now(UTC) - timedelta(minutes=1))
    response = client.get(f"/d/{expired}")
    assert response.status_code == 403 and "expired" in response.text
    good = sign(SECRET, article, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(days=1))
    other = sign(SECRET, article + 1, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(days=1))
    altered = other.split(".")[0] + "." + good.split(".")[1]
    response = client.get(f"/d/{altered}")
    assert response.status_code == 403 and "altered" in response.text


def test_a_password_guards_everything_but_the_digest_links(store: Store) -> None:
    article = add(store, "AI")
    app = build_app(_config(), store, link_secret=SECRET, password="s3cret")
    token = sign(SECRET, article, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(days=1))
    with TestClient(app) as client:
        refused = client.get("/matches")
        assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
        assert client.get("/matches", auth=("me", "wrong")).status_code == 401
        assert client.get("/matches", auth=("anyone", "s3cret")).status_code == 200
        assert client.get(f"/d/{token}").status_code == 200


@pytest.mark.parametrize(("host", "password", "proxy", "refused"), [
    ("127.0.0.1", None, False, False), ("::1", None, False, False),
    ("localhost", None, False, False), ("0.0.0.0", None, False, True),
    ("192.168.1.5", None, False, True), ("0.0.0.0", "pw", False, False),
    ("0.0.0.0", None, True, False),
])
def test_only_loopback_binds_without_authentication(host: str, password: str | None, proxy: bool,
                                                    refused: bool) -> None:
    problem = bind_problem(host, password, proxy)
    assert (problem is not None) == refused
    if problem:
        assert "NEWSWATCH_WEB_PASSWORD" in problem and "trust_proxy_auth" in problem


def test_a_bad_web_section_names_the_field_and_the_fix() -> None:
    from crawler.config import ConfigError

    with pytest.raises(ConfigError, match=r"web.base_url: 'javascript:x' is not an http\(s\) URL"):
        parse_config({"web": {"base_url": "javascript:x"}})
    with pytest.raises(ConfigError, match=r"web\.port"):
        parse_config({"web": {"port": 70000}})


def _row_counts(store: Store) -> dict[str, int]:
    from sqlalchemy import func, select

    from pipelines.storage.models import Base

    with store.session() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


def test_reading_and_explaining_write_nothing(client: TestClient, store: Store) -> None:
    article = add(store, "AI budget rises")
    before = _row_counts(store)
    for path in ("/matches?search=budget", f"/articles/{article}", "/sources", "/digests",
                 f"/explain?id={article}", "/api/matches", f"/api/articles/{article}",
                 "/api/sources", f"/topics/{TOPIC}.atom"):
        assert client.get(path).status_code == 200, path
    page = client.get("/explain").text
    explained = client.post("/explain", data={
        "csrf": csrf_of(page), "text": "Government sets AI research budget\nThe ministry of science "
                                       "announced a national AI research programme and budget."})
    assert explained.status_code == 200 and 'id="result"' in explained.text
    assert "<mark>" in explained.text and TOPIC in explained.text
    assert _row_counts(store) == before, "only a reader's verdict may write"


def test_explain_fetches_only_web_addresses(client: TestClient) -> None:
    page = client.get("/explain").text
    for target in ("/etc/passwd", "file:///etc/passwd", "ftp://example.org/x"):
        refused = client.post("/explain", data={"csrf": csrf_of(page), "url": target})
        assert refused.status_code == 400 and "not an http(s) URL" in refused.text, target
        assert "root:" not in refused.text


def _nudged(html: str) -> dict[int, tuple[str, str]]:
    """The similar articles a verdict's page lists: id -> (score before, score after)."""
    return {int(i): (b, a) for i, b, a in re.findall(
        r'<a href="/articles/(\d+)">#\d+ [^<]*</a> ([01]\.\d\d) → ([01]\.\d\d)', html)}


def test_a_verdict_lists_the_similar_articles_it_nudged(client: TestClient, store: Store) -> None:
    judged = add(store, "AI budget", score=0.9)
    copy = add(store, "AI budget <script>alert(1)</script>", score=0.9)
    unrelated = add(store, "Cars", text="Kia sold many electric cars this month. " * 4)
    page = client.get(f"/articles/{judged}").text
    shown = client.post(f"/articles/{judged}/label", data={
        "csrf": csrf_of(page), "topic": TOPIC, "verdict": "irrelevant",
        "next": f"/articles/{judged}"}).text
    nudged = _nudged(shown)
    assert copy in nudged and unrelated not in nudged
    before, after = nudged[copy]
    assert float(after) < float(before), "a not-relevant verdict lowers its near-copy"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script>alert" not in shown


def test_the_digest_link_and_its_undo_nudge_the_same_articles_back(client: TestClient,
                                                                  store: Store) -> None:
    judged = add(store, "AI institutes", score=0.85)
    copy = add(store, "AI institutes open", score=0.85)
    token = sign(SECRET, judged, TOPIC, IRRELEVANT, datetime.now(UTC) + timedelta(days=1))
    page = client.get(f"/d/{token}").text
    done = client.post(f"/d/{token}", data={"csrf": csrf_of(page)}).text
    before, after = _nudged(done)[copy]
    assert float(after) < float(before)
    form = dict(re.findall(r'name="(previous|mac)" value="([^"]*)"', done))
    undone = client.post(f"/d/{token}/undo", data={"csrf": csrf_of(done), **form}).text
    assert _nudged(undone)[copy] == (after, before), "undo re-scores the neighbour back"
