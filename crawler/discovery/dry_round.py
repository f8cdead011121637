"""A stand-in for a crawl round (crawler/rounds.py) when a feed is read outside a crawl.

The index readers (crawler/spiders/) take a response and the source's round: they ask it for the
source's config, its sites and its size limit, and count what they skip. `sources add` and
`sources test` read feeds without a crawl; this round has no store, no ledger and no budget, so
reading through it changes nothing anywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crawler.spiders.candidates import site_domain

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crawler.config import SourceConfig


@dataclass
class DryLimits:
    max_page_bytes: int


@dataclass
class DryRound:
    """What the readers ask of a round, answered from the source's config alone."""

    source: SourceConfig
    max_page_bytes: int = 5_000_000
    stats: Counter[str] = field(default_factory=Counter)
    vouched: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def limits(self) -> DryLimits:
        return DryLimits(self.max_page_bytes)

    def already_settled(self, url: str, body: bytes) -> bool:
        return False  # a dry read always reads: there is no earlier round to compare with

    def domains(self) -> list[str]:
        return [site_domain(self.source.url), *self.source.allowed_domains, *self.vouched]

    def vouch(self, domains: Iterable[str]) -> None:
        self.vouched.extend(d for d in domains if d not in self.domains())

    def inc_value(self, key: str, count: int = 1) -> None:
        self.stats[key] += count
