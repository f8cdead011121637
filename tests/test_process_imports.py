"""What each process of a crawl loads: memory a round pays for every source, and start-up time.

The crawl process runs Scrapy, the database and the near-duplicate index; the extraction workers
run trafilatura, the scorer and datasketch. Each module loaded on the wrong side costs tens of MB
per process (datasketch alone brings scipy), so a stray top-level import is a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawler.settings import ITEM_PIPELINES

HEAVY_FOR_CRAWL = ("trafilatura", "htmldate", "justext", "datasketch", "scipy", "alembic", "mako")


def loaded_after(*modules: str) -> set[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {list(modules)!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_crawl_process_loads_no_extraction_or_minhash_library() -> None:
    stages = [path.rsplit(".", 1)[0] for path in ITEM_PIPELINES]
    loaded = loaded_after("scheduler", "crawler.service", "crawler.spiders.news", "crawler.rounds",
                          *stages)
    assert "scrapy" in loaded and "sqlalchemy" in loaded  # the check itself works
    assert not loaded & set(HEAVY_FOR_CRAWL), "the crawl process imports what only workers need"


def test_a_worker_loads_no_crawler_or_database() -> None:
    loaded = loaded_after("pipelines.workers.prepare")
    assert "trafilatura" in loaded and "datasketch" in loaded
    stray = loaded & {"scrapy", "twisted", "sqlalchemy", "alembic"}
    assert not stray, f"an extraction worker imports {stray}"


def test_the_crawl_builds_its_extensions_without_the_ones_it_turns_off() -> None:
    """Scrapy imports an extension set to None in EXTENSIONS (to match its key with the base):
    RemoteControl, which is off, would bring aiohttp's web server into every crawl's start."""
    code = (
        "import json, sys\n"
        "from scrapy.extension import ExtensionManager\n"
        "from scrapy.utils.test import get_crawler\n"
        "from crawler.config import parse_config\n"
        "from crawler.settings import build_settings\n"
        "config = parse_config({'sources': [{'name': 'a', 'feed': 'http://127.0.0.1/rss.xml'}]})\n"
        "manager = ExtensionManager.from_crawler(get_crawler(settings_dict=build_settings(config)))\n"
        "print(json.dumps([[type(m).__name__ for m in manager.middlewares], sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    built, loaded = json.loads(done.stdout)
    assert {"CoreStats", "AutoThrottle", "MemoryUsage"} <= set(built), "Scrapy's others are kept"
    assert "LogStats" not in built and "RemoteControl" not in built
    assert "scrapy.extensions.remote_control" not in loaded and "aiohttp" not in loaded


def test_extraction_workers_do_not_import_the_crawls_main_module(tmp_path: Path) -> None:
    """By default each new process imports the parent's main module: the CLI or the crawl
    service, with SQLAlchemy, Scrapy and Twisted. The pool's workers must not (50 MB each)."""
    marker = tmp_path / "imported-by-a-worker"
    main = tmp_path / "crawl_main.py"
    main.write_text(f"""\
import asyncio, multiprocessing, os
from pathlib import Path
if __name__ != "__main__":  # a worker importing this module, as multiprocessing would
    Path({str(marker)!r}).write_text(str(os.getpid()))
import sqlalchemy  # noqa: F401 (what makes the real main modules heavy)
from crawler.items import ArticleItem
from pipelines.workers.pool import PagePool

PAGE = (b"<html><head><title>Lab opens</title></head><body><article><p>"
        + b"The ministry opened a research lab with a university abroad. " * 12
        + b"</p></article></body></html>")

async def main():
    pool = PagePool(2, [], {{}})
    done = await asyncio.gather(*(pool.prepare(ArticleItem(
        source="s", url=f"http://127.0.0.1/{{n}}", body=PAGE, content_type="text/html"))
        for n in range(6)))
    print(len(multiprocessing.active_children()), sorted({{item.title for _, item in done}}))
    pool.close()

if __name__ == "__main__":
    asyncio.run(main())
""", encoding="utf-8")
    done = subprocess.run([sys.executable, str(main)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    workers, titles = done.stdout.split(" ", 1)
    assert int(workers) >= 1 and titles.strip() == "['Lab opens']", "the workers did the work"
    assert not marker.exists(), "a worker imported the crawl's main module"
