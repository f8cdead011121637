"""Articles per day over the last weeks, as a small inline SVG bar chart (no script, no image).

Per-day counts of every source come from one grouped query over the index on (source_id,
fetched_at), so the sources page stays one read however many articles are stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from pipelines.storage.models import Article

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHART_DAYS = 28
BAR, GAP, HEIGHT = 4, 1, 24


@dataclass(frozen=True)
class Bar:
    """One day's bar: where it stands and what its tooltip says."""

    x: int
    y: int
    height: int
    title: str


@dataclass(frozen=True)
class Chart:
    """A source's daily article counts, ready for the template to draw."""

    width: int
    height: int
    bars: list[Bar]
    total: int
    peak: int


def daily_counts(session: Session, days: int = CHART_DAYS,
                 today: date | None = None) -> dict[int, dict[date, int]]:
    """Articles fetched per source and UTC day over the last `days` days."""
    today = today or datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), UTC)
    day = func.date(Article.fetched_at)
    found: dict[int, dict[date, int]] = defaultdict(dict)
    for source_id, when, count in session.execute(
            select(Article.source_id, day, func.count()).where(Article.fetched_at >= start)
            .group_by(Article.source_id, day)):
        found[source_id][when if isinstance(when, date) else date.fromisoformat(str(when))] = count
    return found


def chart(counts: dict[date, int], days: int = CHART_DAYS, today: date | None = None) -> Chart:
    today = today or datetime.now(UTC).date()
    series = [(today - timedelta(days=days - 1 - i), 0) for i in range(days)]
    series = [(day, counts.get(day, 0)) for day, _ in series]
    peak = max((n for _, n in series), default=0)
    bars = []
    for i, (day, n) in enumerate(series):
        height = round(HEIGHT * n / peak) if peak else 0
        if n and not height:
            height = 1
        bars.append(Bar(i * (BAR + GAP), HEIGHT - height, height,
                        f"{day:%Y-%m-%d}: {n} article{'s' if n != 1 else ''}"))
    return Chart(days * (BAR + GAP) - GAP, HEIGHT, bars, sum(n for _, n in series), peak)
