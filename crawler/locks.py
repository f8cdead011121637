"""One crawl of a source at a time, across processes: a manual `crawl` beside the daemon, say.

Two rounds of one source at once would fetch every new article twice and race to store it. An
advisory lock per source (flock on a file beside the HTTP cache) is released by the kernel when
its process ends, however it ends, so a crash never leaves a source locked. A lock is held only
while its round runs: a service polling a thousand sources holds as many descriptors as it has
rounds running (crawl.parallel_rounds), not one per source.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

_UNSAFE = re.compile(r"[^\w.-]")


def lock_path(folder: Path, name: str) -> Path:
    return folder / f"{_UNSAFE.sub('_', name)}.lock"


class SourceLocks:
    """The per-source locks of one process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.held: dict[str, int] = {}

    def take(self, name: str) -> Callable[[], None] | None:
        """Lock the source now, or None when another process holds it; returns the release."""
        fd = os.open(lock_path(self.folder, name), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        self.held[name] = fd
        return lambda: self.release(name)

    def release(self, name: str) -> None:
        fd = self.held.pop(name, None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the lock

    def not_running(self, names: Iterable[str]) -> list[str]:
        """The sources no process crawls now: their lock is free (taken and released at once)."""
        idle = []
        for name in names:
            if name in self.held:
                continue
            release = self.take(name)
            if release is not None:
                release()
                idle.append(name)
        return idle

    def close(self) -> None:
        for name in list(self.held):
            self.release(name)
