"""pipelines/dedupe/identity.py: what makes two articles the same."""

from __future__ import annotations

from pipelines.dedupe.identity import MAX_IDENTITY, canonical_url


def test_tracking_parameters_go_and_the_article_id_stays() -> None:
    assert canonical_url("https://News.example.kr/view?utm_source=rss&idxno=12#top") == (
        "https://news.example.kr/view?idxno=12")


def test_an_identity_past_the_column_is_a_prefix_and_a_digest() -> None:
    """articles.canonical_url holds MAX_IDENTITY characters (PostgreSQL enforces it)."""
    base = "https://news.example.kr/" + "기사" * 400
    first, second = canonical_url(base + "/1"), canonical_url(base + "/2")
    assert len(first) == len(second) == MAX_IDENTITY
    assert first != second, "two long URLs that differ only at the end are two articles"
    assert first == canonical_url(base + "/1?utm_medium=feed"), "the same article stays one"
    assert first.startswith("https://news.example.kr/%EA%B8%B0%EC%82%AC") and "#" in first
