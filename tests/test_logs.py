"""What reaches stderr: our one-line accounts, no tracebacks without -v, logs above the live display."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from rich.console import Console

from crawler.logs import setup_logging
from crawler.progress import CrawlProgress


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """What reached sys.stderr so far (conftest puts the root logger back afterwards)."""
    return lambda: capsys.readouterr().err


def test_log_lines_go_through_the_live_display(stderr: Callable[[], str]) -> None:
    setup_logging(verbose=False)
    screen = io.StringIO()
    rounds = SimpleNamespace(active={})
    with CrawlProgress(rounds, Console(file=screen, force_terminal=True, width=100)):
        logging.getLogger("crawler.spiders.news").warning("[kr] DNS lookup failed for rss.example")
    assert "DNS lookup failed for rss.example" in screen.getvalue()
    assert "DNS lookup failed" not in stderr(), "written past the display"


def test_without_verbose_no_traceback_and_no_library_chatter(stderr: Callable[[], str]) -> None:
    setup_logging(verbose=False)
    try:
        raise ValueError("bad page")
    except ValueError:
        logging.getLogger("pipelines.extraction.extract").exception("extraction failed: %s", "http://x/1")
    logging.getLogger("scrapy.downloadermiddlewares.retry").error("Gave up retrying <GET x>")
    logging.getLogger("scrapy.utils.signal").error("Error caught on signal handler")
    text = stderr()
    lines = text.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("extraction failed: http://x/1 (ValueError: bad page; -v shows the "
                             "traceback)")
    assert "Traceback" not in text
    assert "Error caught on signal handler" in lines[1], "a library's own error still shows"


def test_verbose_keeps_tracebacks_and_scrapy(stderr: Callable[[], str]) -> None:
    setup_logging(verbose=True)
    try:
        raise ValueError("bad page")
    except ValueError:
        logging.getLogger("pipelines.extraction.extract").exception("extraction failed")
    logging.getLogger("scrapy.downloadermiddlewares.retry").error("Gave up retrying <GET x>")
    text = stderr()
    assert "Traceback" in text and "Gave up retrying" in text
