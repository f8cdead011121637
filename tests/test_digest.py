"""pipelines/digest/daily.py and digest_render.py: a real store (SQLite, or PostgreSQL: marked
`postgres`), real SMTP servers, no mocks."""

from __future__ import annotations

import email
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crawler.config import DigestConfig, SourceConfig
from pipelines.digest.daily import (
    SendResult,
    prepare_digest,
    preview_digest,
    render_digest,
    send_pending,
)
from pipelines.digest.render import why_matched
from pipelines.storage.models import Digest, DigestItem
from pipelines.storage.store import Store
from tests import test_mailer as smtp
from tests.test_mailer import ASCII_PASSWORD, USER, Logins, Mailbox

# The SMTP servers and the certificate are test_mailer's fixtures; pytest finds fixtures by
# module attribute, so naming them here shares them.
certificate = smtp.certificate
logins = smtp.logins
mailbox = smtp.mailbox
plain_server = smtp.plain_server
smtps_server = smtp.smtps_server
starttls_server = smtp.starttls_server

pytestmark = [pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
              pytest.mark.postgres]
SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 3, 4, 7, 30, tzinfo=SEOUL)
TOPIC = "ai-research-policy"
REASONS = [
    {"feature": "ai", "evidence": "AI", "where": "title", "weight": 1.4},
    {"feature": "penalty:stocks", "evidence": "주가", "where": "body", "weight": -0.9},
    {"feature": "policy", "evidence": "R&D budget", "where": "lead", "weight": 0.8},
    {"feature": "actor", "evidence": "MSIT", "where": "body", "weight": 0.3},
    {"feature": "weak", "evidence": "research", "where": "body", "weight": 0.1},
]
_serial = itertools.count(1)


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
    store = Store.open(migrated_url)
    store.sync_sources([SourceConfig(name=name, feed=f"https://{name}.example/rss")
                        for name in ("etnews", "yonhap", "hankyung")])
    yield store
    store.engine.dispose()


def add(store: Store, title: str, *, score: float = 0.8, topic: str = TOPIC,
        source: str = "etnews", story_id: int | None = None, url: str | None = None,
        text: str | None = None) -> int:
    """Store an article with one match; returns its story id."""
    n = next(_serial)
    url = url or f"https://{source}.example/news/{n}"
    fields = {
        "source_id": store.source_id(source), "url": url, "canonical_url": url,
        "title": title, "text": text or f"{title}. The ministry announced the plan. " * 8,
        "fingerprint": f"fp-{n}", "language": "en",
        "published": datetime(2025, 3, 3, 22, 15, tzinfo=UTC),
    }
    stored = store.add_article(fields, story_id=story_id, scores=[Score(topic, score)])
    assert stored is not None, f"{url} was not stored"
    return stored[1]


def settings(**overrides: Any) -> DigestConfig:
    return DigestConfig.model_validate({"from": "newswatch@example.org",
                                        "to": ["analyst@example.org"],
                                        "timezone": "Asia/Seoul", **overrides})


def via(server: Any, scheme: str = "smtp", user: str | None = None) -> str:
    login = f"{user.replace('@', '%40')}@" if user else ""
    return f"{scheme}://{login}127.0.0.1:{server.port}"


def send(store: Store, config: DigestConfig, tmp_path: Path, **kwargs: Any) -> list[SendResult]:
    kwargs.setdefault("now", NOW)
    return send_pending(store, config, base_dir=tmp_path, backoff=0, **kwargs)


def digests(store: Store) -> list[Digest]:
    with store.session() as session:
        return list(session.scalars(select(Digest).order_by(Digest.id)))


def eml_files(tmp_path: Path) -> list[EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=default_policy)
            for path in sorted((tmp_path / "outbox").glob("*.eml"))]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


# -- what the digest says ---------------------------------------------------------------------


def test_grouped_by_topic_best_first_and_subject_names_date_count_topics(store: Store) -> None:
    add(store, "Middling story", score=0.6)
    add(store, "Best story", score=0.95)
    add(store, "Good story", score=0.7)
    add(store, "Quantum lab opens", score=0.9, topic="quantum-policy")
    content = preview_digest(store, settings(), now=NOW)
    assert content.count == 4
    assert content.topics == [TOPIC, "quantum-policy"]
    assert content.subject == ("[newswatch] 2025-03-04: 4 new articles in "
                               "ai-research-policy, quantum-policy")
    for body, header in ((content.text, "== quantum-policy"), (content.html, ">quantum-policy <")):
        positions = [body.index(t) for t in ("Best story", "Good story", "Middling story",
                                             header, "Quantum lab opens")]
        assert positions == sorted(positions), "topics in order, and best first within each"
    assert [item.title for item in content.items][:3] == ["Best story", "Good story",
                                                          "Middling story"]


def test_each_item_has_link_source_date_lead_and_why(store: Store) -> None:
    add(store, "AI R&D budget doubles", url="https://etnews.example/a")
    content = preview_digest(store, settings(), now=NOW)
    # Published 22:15 UTC is 07:15 the next morning in Seoul.
    assert "etnews · 2025-03-04 07:15 · score 0.80" in content.text
    assert "https://etnews.example/a" in content.text
    assert '<a href="https://etnews.example/a"' in content.html
    why = "Why: “AI” in title, “R&D budget” in lead, “MSIT” in body"
    assert why in content.text
    assert "“R&amp;D budget” in lead" in content.html
    assert "주가" not in content.text, "a penalty is not a reason to match"
    lead = [line for line in content.text.splitlines() if "The ministry announced" in line]
    assert 1 <= len(lead) <= 2 and lead[-1].endswith("…"), "the lead is two lines at most"


def test_each_item_shows_the_id_that_show_label_and_explain_take(store: Store) -> None:
    add(store, "AI R&D budget doubles")
    add(store, "Second story", score=0.7)
    content = preview_digest(store, settings(), now=NOW)
    first, second = content.items
    assert f"#{first.id}  AI R&D budget doubles" in content.text
    assert f"#{second.id}  Second story" in content.text
    assert f"#{first.id} · etnews" in content.html
    assert "1. AI R&D budget" not in content.text, "list numbers collide with real ids"
    assert "newswatch show 123" in content.text


def test_every_web_value_is_escaped_in_html(store: Store) -> None:
    title = '<script>alert("x")</script> R&D "budget" & more'
    story = add(store, title, url='https://etnews.example/a?b=1&c="d"',
                text="<b>bold</b> claims & counter-claims about the AI plan. " * 3)
    add(store, "copy", source="yonhap", story_id=story, url="javascript:alert(1)", score=0.5)
    content = preview_digest(store, settings(), now=NOW, attention=["etnews: <i>HTTP 500</i>"])
    html = content.html
    assert "<script>" not in html and "<b>bold" not in html and "<i>HTTP" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; R&amp;D &#34;budget&#34; &amp; more" \
        in html
    assert 'href="https://etnews.example/a?b=1&amp;c=&#34;d&#34;"' in html
    assert "&lt;b&gt;bold&lt;/b&gt; claims &amp; counter-claims" in html
    assert "&lt;i&gt;HTTP 500&lt;/i&gt;" in html
    assert "javascript:" not in html, "only http(s) URLs become links"
    assert title in content.text, "the plain-text part shows the title as written"


def test_also_in_lists_the_same_story_elsewhere_once(store: Store) -> None:
    story = add(store, "AI institute founded", score=0.9)
    add(store, "AI institute founded (Yonhap)", source="yonhap", story_id=story, score=0.7,
        url="https://yonhap.example/ai-institute")
    content = preview_digest(store, settings(), now=NOW)
    assert content.count == 1, "one story, however many portals carried it"
    assert "Also in: yonhap <https://yonhap.example/ai-institute>" in content.text
    assert '<a href="https://yonhap.example/ai-institute" style="color:#1d4ed8;">yonhap</a>' \
        in content.html


def test_why_matched_is_defensive_about_the_reasons_shape() -> None:
    assert why_matched({"score": 0.9, "reasons": REASONS}) == (
        "“AI” in title, “R&D budget” in lead, “MSIT” in body")
    assert why_matched(REASONS, limit=1) == "“AI” in title"
    odd = [None, "text", {"weight": 2}, {"evidence": "  "}, {"evidence": "x", "weight": "high"},
           {"feature": "ai-term", "weight": 0.2}, {"evidence": "y\n\u202ez", "where": None}]
    assert why_matched({"reasons": odd}) == "“ai-term”, “y z”"
    for shape in (None, {}, {"reasons": "none"}, 3, {"reasons": {"a": 1}}):
        assert why_matched(shape) == ""


def test_why_matched_reads_the_classifier_shape() -> None:
    # As pipelines.scoring.scorer.TopicScore.to_json writes it: the same surface in several parts,
    # a required group that found nothing (weight 0), and a labeled-example nudge.
    stored = {"topic": TOPIC, "score": 0.93, "threshold": 0.5, "matched": True, "reasons": [
        {"feature": "ai", "evidence": "AI", "where": "body", "weight": 0.5, "term": "인공지능",
         "count": 3},
        {"feature": "ai", "evidence": "AI", "where": "title", "weight": 1.1, "term": "인공지능",
         "count": 1},
        {"feature": "missing:actor", "evidence": "a public body", "where": "article",
         "weight": 0.0, "term": None, "count": 1},
        {"feature": "example", "evidence": 'similar to labeled article #12 "AI 예산 확대" '
         "(relevant, similarity 0.81)", "where": "example", "weight": 0.7, "term": "12",
         "count": 1},
        {"feature": "business", "evidence": "stock", "where": "lead", "weight": -0.4,
         "term": "stock", "count": 1},
    ]}
    assert why_matched(stored) == (
        '“AI” in title and body, similar to labeled article #12 "AI 예산 확대" (relevant, '
        "similarity 0.81)")


def test_attention_footer_only_when_a_source_is_unhealthy(store: Store) -> None:
    add(store, "AI story")
    line = "etnews: failing 5 rounds in a row: https://etnews.example/rss: HTTP 500"
    content = preview_digest(store, settings(), now=NOW, attention=[line])
    assert "Sources needing attention:\n  - " + line in content.text
    assert "Sources needing attention" in content.html and line in content.html
    healthy = preview_digest(store, settings(), now=NOW)
    assert "attention" not in healthy.text and "attention" not in healthy.html


def test_render_refuses_an_empty_digest_unless_asked() -> None:
    with pytest.raises(ValueError, match="empty_ok"):
        render_digest([], day=date(2025, 3, 4), attention=[], tz=SEOUL, empty_ok=False)
    content = render_digest([], day=date(2025, 3, 4), attention=["a: down", "b: down"],
                            tz=SEOUL, empty_ok=True)
    assert content.subject == "[newswatch] 2025-03-04: nothing new, 2 sources need attention"


# -- recording and sending --------------------------------------------------------------------


def test_preview_marks_nothing(store: Store, tmp_path: Path) -> None:
    add(store, "AI story")
    assert preview_digest(store, settings(), now=NOW).count == 1
    assert preview_digest(store, settings(), now=NOW).count == 1
    assert digests(store) == []
    assert [r.status for r in send(store, settings(), tmp_path)] == ["sent"]


def test_outbox_digest_parses_back_and_nothing_is_sent_twice(store: Store,
                                                            tmp_path: Path) -> None:
    add(store, "First AI story")
    first = send(store, settings(), tmp_path)
    assert [(r.status, r.count, r.attempts) for r in first] == [("sent", 1, 1)]
    assert first[0].delivered_to.endswith(".eml")
    [message] = eml_files(tmp_path)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == first[0].message_id
    assert message["Subject"] == "[newswatch] 2025-03-04: 1 new article in ai-research-policy"
    assert "First AI story" in text_of(message) and "First AI story" in html_of(message)

    assert send(store, settings(), tmp_path) == [], "a second call has nothing to send"
    assert len(eml_files(tmp_path)) == 1

    add(store, "Second AI story")
    later = send(store, settings(), tmp_path, now=NOW + timedelta(days=1))
    assert [r.count for r in later] == [1]
    newest = next(m for m in eml_files(tmp_path) if m["Message-ID"] == later[0].message_id)
    assert "Second AI story" in text_of(newest) and "First AI story" not in text_of(newest)


def test_crash_between_recording_and_sending_sends_the_same_message_once(
        store: Store, plain_server: Any, mailbox: Mailbox, tmp_path: Path) -> None:
    add(store, "AI story")
    config = settings(smtp=via(plain_server))
    recorded = prepare_digest(store, config, now=NOW)  # ...and then the process died
    assert recorded is not None
    assert prepare_digest(store, config, now=NOW) == recorded, "no second digest"
    [pending] = digests(store)
    assert (pending.status, pending.attempts) == ("pending", 0)

    results = send(store, config, tmp_path)
    assert [(r.digest_id, r.status, r.message_id) for r in results] == [
        (recorded, "sent", pending.message_id)]
    assert send(store, config, tmp_path) == []
    assert [m["Message-ID"] for m in mailbox.messages] == [pending.message_id]
    assert mailbox.envelopes == [("newswatch@example.org", ["analyst@example.org"])]
    [sent] = digests(store)
    assert sent.status == "sent" and sent.sent_at is not None and sent.error is None


def test_refusing_server_keeps_the_digest_and_the_next_call_sends_it(
        store: Store, plain_server: Any, mailbox: Mailbox, tmp_path: Path) -> None:
    add(store, "AI story")
    config = settings(smtp=via(plain_server))
    mailbox.refuse_data = "451 4.3.0 mailbox busy, try later"
    [failed] = send(store, config, tmp_path, attempts=3)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "451 4.3.0 mailbox busy" in failed.error
    [row] = digests(store)
    assert (row.status, row.attempts, row.error) == ("failed", 3, failed.error)
    assert mailbox.messages == []

    mailbox.refuse_data = "554 5.7.1 policy rejection"
    [again] = send(store, config, tmp_path, attempts=3)
    assert (again.status, again.attempts) == ("failed", 4), "a permanent refusal is not retried"

    mailbox.refuse_data = None
    add(store, "Story that arrived during the outage")
    results = send(store, config, tmp_path)
    assert (results[0].digest_id, results[0].status) == (row.id, "sent")
    assert results[0].message_id == row.message_id and results[0].attempts == 5
    assert [r.count for r in results] == [1, 1], "the old digest first, then the new story"
    assert [m["Message-ID"] for m in mailbox.messages] == [r.message_id for r in results]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(DigestItem)) == 2


def test_dropped_connection_is_retried_next_call(store: Store, plain_server: Any,
                                                 mailbox: Mailbox, tmp_path: Path) -> None:
    add(store, "AI story")
    config = settings(smtp=via(plain_server))
    mailbox.drop = True
    [failed] = send(store, config, tmp_path, attempts=2)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert "closed the connection" in failed.error
    mailbox.drop = False
    [sent] = send(store, config, tmp_path)
    assert sent.status == "sent" and sent.message_id == failed.message_id
    assert len(mailbox.messages) == 1


def test_password_never_logged_nor_in_errors(
        store: Store, starttls_server: Any, logins: Logins, mailbox: Mailbox,
        certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add(store, "AI story")
    (tmp_path / "ca.pem").write_bytes(certificate[0].read_bytes())
    config = settings(smtp=via(starttls_server, user=USER), smtp_cafile="ca.pem")
    wrong = "not-" + ASCII_PASSWORD
    monkeypatch.setenv("NEWSWATCH_SMTP_PASSWORD", wrong)
    [failed] = send(store, config, tmp_path)
    assert failed.status == "failed" and failed.attempts == 1, "a wrong password is not retried"
    assert failed.error.startswith(f"SMTP login failed for 127.0.0.1:{starttls_server.port}")
    assert "set NEWSWATCH_SMTP_PASSWORD" in failed.error
    assert logins.tries, "the server saw the login"

    monkeypatch.setenv("NEWSWATCH_SMTP_PASSWORD", ASCII_PASSWORD)
    [sent] = send(store, config, tmp_path)
    assert sent.status == "sent" and len(mailbox.messages) == 1
    stored = " ".join(str(d.error) for d in digests(store))
    for secret in (wrong, ASCII_PASSWORD):
        assert secret not in caplog.text and secret not in str(failed) + str(sent) + stored


def test_implicit_tls_with_cafile(store: Store, smtps_server: Any, mailbox: Mailbox,
                                  certificate: tuple[Path, Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    add(store, "AI story")
    monkeypatch.setenv("NEWSWATCH_SMTP_PASSWORD", ASCII_PASSWORD)
    config = settings(smtp=via(smtps_server, "smtps", user=USER),
                      smtp_cafile=str(certificate[0]))
    [sent] = send(store, config, tmp_path)
    assert sent.delivered_to == f"smtps://127.0.0.1:{smtps_server.port}"
    assert mailbox.messages[0]["Message-ID"] == sent.message_id


def test_empty_day_sends_nothing_unless_send_empty(store: Store, tmp_path: Path) -> None:
    assert send(store, settings(), tmp_path) == []
    assert digests(store) == [] and eml_files(tmp_path) == []
    assert prepare_digest(store, settings(), now=NOW) is None

    [sent] = send(store, settings(send_empty=True), tmp_path)
    assert sent.count == 0
    [message] = eml_files(tmp_path)
    assert message["Subject"] == "[newswatch] 2025-03-04: nothing new, all sources healthy"
    assert "all sources are healthy" in text_of(message)
    assert send(store, settings(send_empty=True), tmp_path) == [], "one a day at most"
    tomorrow = send(store, settings(send_empty=True), tmp_path, now=NOW + timedelta(days=1),
                    attention=["yonhap: failing 3 rounds in a row"])
    assert tomorrow[0].subject == "[newswatch] 2025-03-05: nothing new, 1 source needs attention"


def test_max_items_keeps_the_best_and_the_rest_wait(store: Store, tmp_path: Path) -> None:
    for score in (0.6, 0.9, 0.7):
        add(store, f"Story {score}", score=score)
    config = settings(max_items=2, subject_prefix="")
    [first] = send(store, config, tmp_path)
    assert first.count == 2 and first.subject.startswith("2025-03-04: 2 new articles")
    [message] = eml_files(tmp_path)
    assert "Story 0.9" in text_of(message) and "Story 0.6" not in text_of(message)
    assert "1 more match wait for the next digest" in text_of(message)
    [second] = send(store, config, tmp_path)
    assert second.count == 1
    assert sum(r.count for r in (first, second)) == 3


def test_cli_send_that_fails_exits_1_and_says_why(store: Store, plain_server: Any,
                                                    mailbox: Mailbox, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scheduler import cli

    add(store, "AI R&D budget doubles")
    mailbox.refuse_rcpt = "550 5.1.1 no such user"
    config = tmp_path / "newswatch.toml"
    config.write_text(f'[database]\nurl = "{store.url}"\n[digest]\n'
                      f'smtp = "smtp://127.0.0.1:{plain_server.port}"\nto = ["analyst@example.org"]\n',
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--send"], obj={})
    assert result.exit_code == 1, result.output
    assert "refused every recipient: analyst@example.org (550 5.1.1 no such user)" in result.output
    assert "the digest was not sent" in result.output
    mailbox.refuse_rcpt = None
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--send"], obj={})
    assert result.exit_code == 0, result.output
    assert len(mailbox.messages) == 1
