"""Where a round keeps what changes while it runs: counters, first-come values, lists, sets, maps.

In one process that is memory (MemoryLedger). On a cluster every worker may handle a request of
any round, so the same ledger lives in Redis (crawler/cluster.py: RedisLedger), and each change is
one atomic Redis command: a counter that reaches zero reaches it for exactly one worker.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Protocol


class Ledger(Protocol):
    def add(self, key: str, amount: int = 1) -> int:
        """Add to a counter; its new value."""

    def counters(self) -> dict[str, int]: ...

    def first(self, key: str, value: str) -> bool:
        """Set a value unless it is set; whether this call set it."""

    def values(self) -> dict[str, str]: ...

    def append(self, key: str, value: str, keep: int = 50) -> None:
        """Add to a list, keeping its last `keep` entries."""

    def items(self, key: str) -> list[str]: ...

    def put(self, key: str, field: str, value: str) -> None:
        """Set one field of a map."""

    def mapping(self, key: str) -> dict[str, str]: ...

    def include(self, key: str, member: str) -> None:
        """Add to a set."""

    def members(self, key: str) -> set[str]: ...


class MemoryLedger:
    """A round's ledger in one process."""

    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._values: dict[str, str] = {}
        self._lists: defaultdict[str, list[str]] = defaultdict(list)
        self._maps: defaultdict[str, dict[str, str]] = defaultdict(dict)
        self._sets: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, key: str, amount: int = 1) -> int:
        self._counters[key] += amount
        return self._counters[key]

    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def first(self, key: str, value: str) -> bool:
        if key in self._values:
            return False
        self._values[key] = value
        return True

    def values(self) -> dict[str, str]:
        return dict(self._values)

    def append(self, key: str, value: str, keep: int = 50) -> None:
        entries = self._lists[key]
        entries.append(value)
        del entries[:-keep]

    def items(self, key: str) -> list[str]:
        return list(self._lists[key])

    def put(self, key: str, field: str, value: str) -> None:
        self._maps[key][field] = value

    def mapping(self, key: str) -> dict[str, str]:
        return dict(self._maps[key])

    def include(self, key: str, member: str) -> None:
        self._sets[key].add(member)

    def members(self, key: str) -> set[str]:
        return set(self._sets[key])
