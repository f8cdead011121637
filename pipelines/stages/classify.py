"""The classify stage: counts each article's topic matches; the scores themselves are made in the
extraction worker (pipelines/workers/prepare.py) with the scorer of pipelines/scoring/scorer.py.

Kept apart from the scorer so it stays free of Scrapy, and `explain`, `rescore` and `evaluate`
share it without loading a crawler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Self

from pipelines.scoring.scorer import Example, score_all
from pipelines.stages.resources import Count, StageResources

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem
    from pipelines.scoring.topics import Topic


class ClassifyPipeline:
    """Scores each cleaned article against every topic; readers' labels serve as examples."""

    def __init__(self, topics: Sequence[Topic], count: Count,
                 examples: Mapping[str, Sequence[Example]] | None = None) -> None:
        self.topics = list(topics)
        self.count = count
        self.examples = dict(examples or {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        resources = StageResources.of(crawler)
        return cls(resources.topics, resources.count, resources.examples)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if not item.scores:  # normally scored already, in the worker that cleaned the page
            item.scores = score_all(item.title, item.text, item.language, self.topics,
                                    self.examples)
        for result in item.scores:
            if result.matched:
                self.count(item, f"classify/matched/{result.topic}", 1)
        return item
