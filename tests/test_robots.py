"""crawler/robots.py: a long-lived service reads each site's robots.txt again, daily."""

from __future__ import annotations

import asyncio
import time

import pytest
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from crawler import robots
from crawler.robots import ExpiringRobotsTxt


@pytest.mark.parametrize(("parser", "age", "asked_again"), [
    ("rules", robots.KEEP_SECONDS - 60, False),
    ("rules", robots.KEEP_SECONDS + 60, True),
    (None, robots.KEEP_FAILED_SECONDS + 60, True),  # a robots.txt that failed to download
    (None, robots.KEEP_FAILED_SECONDS - 60, False),
])
def test_a_sites_rules_are_read_again_once_they_are_old(monkeypatch: pytest.MonkeyPatch, parser: object,
                                                        age: float, asked_again: bool) -> None:
    middleware = ExpiringRobotsTxt(get_crawler(settings_dict={"ROBOTSTXT_OBEY": True}))
    middleware._parsers["news.example.kr"] = parser  # type: ignore[assignment]
    middleware._read_at["news.example.kr"] = time.monotonic() - age
    fetched: list[str] = []

    async def download(self: RobotsTxtMiddleware, request: Request) -> object:
        if "news.example.kr" not in self._parsers:  # what Scrapy's middleware then fetches anew
            fetched.append(request.url)
            self._parsers["news.example.kr"] = "fresh"  # type: ignore[assignment]
        return self._parsers["news.example.kr"]

    monkeypatch.setattr(RobotsTxtMiddleware, "robot_parser", download)
    result = asyncio.run(middleware.robot_parser(Request("http://news.example.kr/a")))
    assert bool(fetched) == asked_again
    assert result == ("fresh" if asked_again else parser)
