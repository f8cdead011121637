"""What the pipeline stages share, owned by one object per crawl service: opened when the engine
starts, closed when it stops.

A stage gets what it needs from here in `from_crawler` (through the `NEWSWATCH_RESOURCES`
setting) and holds nothing global, so a test builds a stage with Scrapy's `get_crawler` and a
`StageResources` of its own. Counts go to the item's round (`count`), not to
Scrapy's one stats collector: one engine crawls every source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from pipelines.dedupe.near_duplicates import NearDuplicates
    from pipelines.scoring.scorer import Example
    from pipelines.scoring.topics import Topic
    from pipelines.storage.store import Store
    from pipelines.workers.pool import PagePool

logger = logging.getLogger(__name__)
# Counts on the round of the item (crawler/rounds.py: Rounds.count): its source, its run.
Count = Callable[[Any, str, int], None]


def _nowhere(item: Any, key: str, value: int) -> None:
    """Counts of an item whose round is unknown (a stage tested alone) go nowhere."""


@dataclass
class StageResources:
    """The store (the near-duplicate index lives in it), the worker pool, the topics and readers'
    examples, and how alike two articles must be to be one story."""

    store: Store
    topics: Sequence[Topic]
    examples: Mapping[str, Sequence[Example]]
    pool: PagePool
    near_duplicates: NearDuplicates
    count: Count = _nowhere
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, crawler: Crawler) -> StageResources:
        """The resources a crawler was given; a stage cannot work without them."""
        resources = crawler.settings.get("NEWSWATCH_RESOURCES")
        if not isinstance(resources, cls):
            raise RuntimeError("NEWSWATCH_RESOURCES is not set: the pipeline stages run inside a "
                               "crawl service (crawler/service.py), which provides them")
        return resources

    def __deepcopy__(self, memo: dict[int, Any]) -> StageResources:
        """Scrapy copies its settings deeply; the service's resources are shared, never copied."""
        return self

    def close(self) -> None:
        """Stop the workers and release the database connections."""
        self.pool.close()
        self.store.close()
