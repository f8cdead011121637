"""The classify stage in the crawl: scores each article; the scoring itself is in classify.py.

Kept apart from classify.py so the scorer stays free of Scrapy, and `explain`, `rescore` and
`evaluate` share it without loading a crawler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from pipelines.scoring.scorer import Example, score_all

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.items import ArticleItem
    from pipelines.scoring.topics import Topic


_compiled: dict[str, list[Topic]] = {}


def shared_topics(configs: list[dict[str, Any]]) -> list[Topic]:
    """Topics compiled once per process (45 ms each time), not once per source of a round."""
    key = json.dumps(configs, sort_keys=True)
    if key not in _compiled:
        from pipelines.scoring.topics import resolve_topics

        _compiled[key] = resolve_topics(configs or None)
    return _compiled[key]


_examples: dict[str, dict[str, list[Example]]] = {}


def shared_examples(database_url: str) -> dict[str, list[Example]]:
    """Readers' verdicts as scoring examples, read once per process for every source of a round."""
    if database_url not in _examples:
        from pipelines.scoring.rescore import examples_by_topic
        from pipelines.storage.store import Store

        with Store.open(database_url).session() as session:
            _examples[database_url] = examples_by_topic(session)
    return _examples[database_url]


class ClassifyPipeline:
    """Scores each cleaned article against every topic; readers' labels serve as examples."""

    def __init__(self, topics: Sequence[Topic], stats: StatsCollector,
                 examples: Mapping[str, Sequence[Example]] | None = None) -> None:
        self.topics = list(topics)
        self.stats = stats
        self.examples = dict(examples or {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(shared_topics(settings.getlist("NEWSWATCH_TOPICS")), crawler.stats,
                   shared_examples(settings["NEWSWATCH_DATABASE_URL"]))

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if not item.scores:  # normally scored already, in the worker that cleaned the page
            item.scores = score_all(item.title, item.text, item.language, self.topics,
                                    self.examples)
        for result in item.scores:
            if result.matched:
                self.stats.inc_value(f"classify/matched/{result.topic}")
        return item
