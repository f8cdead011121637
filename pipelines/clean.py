"""The clean stage: the article out of the page (title, text, date, language), or a counted drop."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DropItem

from pipelines.extract import Extracted, extract_article
from pipelines.identity import usable_canonical

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.items import ArticleItem
    from pipelines.workers import PagePool

logger = logging.getLogger(__name__)

# Shorter than this, a "body" is a teaser, a paywall stub or an error page, not an article.
MIN_TEXT_CHARS = 200
# A feed summary stands in for the body only when it says something by itself.
MIN_SUMMARY_CHARS = 120


def clean_item(item: ArticleItem, extracted: Extracted | None = None) -> str | None:
    """Fill the item's article fields from its page; returns why it is no article, or None.

    `extracted` is the page already run through extract_article (in a worker process).
    """
    if extracted is None:
        extracted = extract_article(item.body, item.url, item.content_type, item.language_hint)
    item.title = extracted.title or _plain(item.feed_title)
    item.published = extracted.published or item.feed_published
    item.author = extracted.author
    item.language = extracted.language or item.language_hint
    item.canonical_url = usable_canonical(extracted.canonical_url, item.url)
    item.text = extracted.text.strip()
    item.body = b""  # the raw page is not needed past this stage; keep items small
    if len(item.text) < MIN_TEXT_CHARS:
        summary = _plain(item.feed_summary) or ""
        if len(summary) > max(len(item.text), MIN_SUMMARY_CHARS - 1):
            item.text = summary
        elif not item.text:
            return "no_text"
        elif len(item.text) < MIN_TEXT_CHARS:
            return "too_short"
    return None


def _plain(html: str | None) -> str | None:
    """Feed titles and summaries may carry markup; the store wants text."""
    if not html:
        return None
    if "<" not in html:
        return html.strip()
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(html).text_content().strip() or None
    except Exception:
        return html.strip()


class CleanPipeline:
    """Cleans each fetched page (in a worker process) and drops the pages that hold no article."""

    def __init__(self, stats: StatsCollector, pool: PagePool) -> None:
        self.stats = stats
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        from pipelines.classify_stage import shared_examples
        from pipelines.workers import shared_pool

        settings = crawler.settings
        pool = shared_pool(settings.getint("NEWSWATCH_EXTRACT_WORKERS", 0),
                           settings.getlist("NEWSWATCH_TOPICS"),
                           shared_examples(settings["NEWSWATCH_DATABASE_URL"]))
        return cls(crawler.stats, pool)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        reason, prepared = await self.pool.prepare(item)
        if reason is not None:
            self.stats.inc_value(f"clean/dropped/{reason}")
            raise DropItem(f"not an article ({reason}): {item.url}")
        self.stats.inc_value("clean/ok")
        return prepared
