"""Wall time and requests of a first and a second crawl of the test portal (tests/portal).

Run: python benchmarks/portal_rounds.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import newswatch, write_config
from tests.portal.server import start_portal
from tests.test_crawl import sources

ARTICLES = ("/kr/article/", "/euckr/view.php", "/en/article/", "/news/story/", "/fault/good/")


def main() -> None:
    with start_portal() as portal, tempfile.TemporaryDirectory() as tmp:
        portal.set_state(slow_delay=8)
        # The slow feed's timeout would set the wall time of both rounds; it is left out here.
        config = write_config(Path(tmp), [s for s in sources(portal) if s["name"] != "slow"])
        for label in ("first", "second"):
            portal.reset()
            started = time.perf_counter()
            newswatch(config, "crawl")
            wall = time.perf_counter() - started
            log = portal.requests()
            articles = sum(r.path.startswith(ARTICLES) for r in log)
            not_modified = sum(r.status == 304 for r in log)
            sent = sum(r.bytes_sent for r in log)
            print(f"{label:6} crawl: {wall:5.2f} s wall, {len(log):3d} requests "
                  f"({articles} article pages, {not_modified} answered 304), {sent / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
