"""The cluster's one request queue: scrapy-redis's scheduler, riding out Redis outages.

Every worker takes its next request from one Redis priority queue, whichever worker's round made
it (a round's ledger is in Redis too, crawler/cluster.py). A request that cannot be queued while
Redis is unreachable waits in the worker, which serves what it holds until Redis is back; nothing
is dropped. No request filter: the store's pages decide what was fetched (a filter in Redis would
keep an article that failed with a 5xx from ever being asked for again).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Self

import redis
from redis.exceptions import RedisError
from scrapy.dupefilters import BaseDupeFilter
from scrapy_redis.scheduler import Scheduler

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

QUEUE_CLASS = "scrapy_redis.queue.PriorityQueue"


class SharedQueue(Scheduler):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.held: deque[Request] = deque()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        server = redis.Redis.from_url(settings["REDIS_URL"], socket_timeout=5,
                                      socket_connect_timeout=5, health_check_interval=15)
        queue = cls(server=server, persist=True, queue_key=settings["SCHEDULER_QUEUE_KEY"],
                    queue_cls=QUEUE_CLASS, dupefilter=BaseDupeFilter())
        queue.stats = crawler.stats
        return queue

    def enqueue_request(self, request: Request) -> bool:
        try:
            self._push_held()
            return bool(super().enqueue_request(request))
        except RedisError:
            self.held.append(request)
            return True

    def next_request(self) -> Request | None:
        try:
            self._push_held()
            request = super().next_request()
        except RedisError:
            request = None
        if request is None and self.held:
            request = self.held.popleft()
        return request

    def has_pending_requests(self) -> bool:
        try:
            return bool(self.held) or bool(super().has_pending_requests())
        except RedisError:
            return bool(self.held)

    def _push_held(self) -> None:
        while self.held:
            super().enqueue_request(self.held[0])
            self.held.popleft()
