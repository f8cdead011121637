"""Log lines on stderr: one line per event, our own words; libraries' chatter and tracebacks with -v.

A first crawl without network used to print 900 lines and two dozen Scrapy tracebacks for twelve
sources; every failure is already one line of ours, naming the cause (crawler/spiders/news.py).
"""

from __future__ import annotations

import copy
import logging
import sys

# Loggers that speak about pages and requests: every failure they log is also one line of a
# spider's, naming the source and the cause, and counted on the source.
ABOUT_PAGES = ("scrapy.downloadermiddlewares", "scrapy.spidermiddlewares", "scrapy.core.scraper",
               "scrapy.core.downloader", "scrapy.extensions", "twisted", "py.warnings",
               "trafilatura", "htmldate", "courlan", "justext", "charset_normalizer", "filelock")
LIBRARIES = ("scrapy", "apscheduler", "alembic", "sqlalchemy", "asyncio")


class CurrentStderr:
    """Whatever sys.stderr is when a line is written, not when logging was set up.

    The live progress display (crawler/progress.py) swaps sys.stderr for its console's proxy,
    which prints a line above the display; a handler holding the original stream wrote through
    the display and left stale copies of it on the screen.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class OneLineFormatter(logging.Formatter):
    """Without -v, an exception is named at the end of its line instead of a traceback."""

    def __init__(self, verbose: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None and not self.verbose:
            error = record.exc_info[1]
            record = copy.copy(record)
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error}; -v shows the traceback)"
            record.args, record.exc_info, record.exc_text = None, None, None
        return super().format(record)


def quiet_libraries(record: logging.LogRecord) -> bool:
    """Our own lines always pass; libraries' warnings and errors about themselves do, their
    accounts of single pages (already told by a spider) only when critical."""
    if record.name.startswith(ABOUT_PAGES):
        return record.levelno >= logging.CRITICAL
    if record.name.startswith(LIBRARIES):
        return record.levelno >= logging.WARNING
    return True


def setup_logging(verbose: bool) -> None:
    """One line per event on stderr; Scrapy's own log (and tracebacks) only with --verbose.

    A filter on the handler, not logger levels: Scrapy resets its loggers when a crawl starts.
    """
    handler = logging.StreamHandler(CurrentStderr())
    handler.setFormatter(OneLineFormatter(verbose))
    if not verbose:
        handler.addFilter(quiet_libraries)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler],
                        force=True)
