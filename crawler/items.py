"""The one item that flows from the spiders through every pipeline stage to the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ArticleItem:
    """An article page as fetched, then filled in stage by stage.

    Spiders set the first block (the raw page and what the feed or sitemap said about it);
    `clean` sets the extracted fields, `dedupe` the identity fields, `classify` the scores.
    A dataclass rather than a dict so a typo in a field name fails loudly.
    """

    source: str
    url: str
    body: bytes
    run_id: int = 0  # the round (crawl run) that fetched it
    content_type: str | None = None
    language_hint: str | None = None
    # What the feed or sitemap said: fallbacks when the page itself yields nothing.
    feed_title: str | None = None
    feed_summary: str | None = None
    feed_published: datetime | None = None
    # Domains the source is configured for (its own site and allowed_domains): besides the host
    # that served the page, the only ones its rel=canonical may name (pipelines/dedupe/identity.py).
    trusted_domains: tuple[str, ...] = ()
    # Set by pipelines/stages/clean.py.
    title: str | None = None
    text: str = ""
    published: datetime | None = None
    author: str | None = None
    language: str | None = None
    # Set by pipelines/stages/dedupe.py (story_id only when the text joins a stored story).
    canonical_url: str | None = None
    canonical_refused: str | None = None  # a rel=canonical on a host the page may not speak for
    fingerprint: str | None = None
    minhash: bytes | None = None
    story_id: int | None = None
    # Set by pipelines/stages/store.py.
    article_id: int | None = None
    # Set by pipelines/scoring/scorer.py: one entry per topic, see pipelines.scoring.scorer.TopicScore.
    scores: list[Any] = field(default_factory=list)
