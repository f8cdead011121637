"""Live per-source progress for a crawl round in a terminal (plain log lines everywhere else)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from crawler.rounds import Round, RoundResult, Rounds


class CrawlProgress:
    """One line per source: pages fetched, articles stored, failures, and how it ended."""

    def __init__(self, rounds: Rounds, console: Console | None = None) -> None:
        # Log lines reach the screen through this console too (see crawler/logs.py), above the
        # live lines instead of through them.
        self.rounds = rounds
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description:<32}"),
            TextColumn("{task.fields[pages]:>4} pages  {task.fields[stored]:>3} new  "
                       "{task.fields[failed]:>2} failed  {task.fields[state]}"),
            TimeElapsedColumn(), console=console or Console(stderr=True), transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def _task(self, name: str) -> Any:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=None, pages=0, stored=0,
                                                      failed=0, state="crawling")
        return self.tasks[name]

    def refresh(self) -> None:
        """Every running round's figures so far (called a few times a second)."""
        for current in list(self.rounds.active.values()):
            self.progress.update(self._task(current.name), **_figures(current))

    def ended(self, result: RoundResult) -> None:
        self.progress.update(self._task(result.source), pages=result.requests,
                             stored=result.new_articles, failed=result.failures,
                             state=result.status, total=1, completed=1)

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _figures(current: Round) -> dict[str, Any]:
    stats = current.ledger.counters()
    return {"pages": current.requests, "stored": stats.get("store/stored", 0),
            "failed": stats.get("newswatch/index_failed", 0) + stats.get("newswatch/article_failed", 0)}
