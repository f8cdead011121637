"""One crawl of a source at a time, across processes: a manual `crawl` beside the daemon, say.

Two rounds of one source at once would fetch every new article twice and race to store it. An
advisory lock per source (flock on a file beside the HTTP cache) is released by the kernel when
its process ends, however it ends, so a crash never leaves a source locked.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.config import SourceConfig

_UNSAFE = re.compile(r"[^\w.-]")


def lock_path(folder: Path, name: str) -> Path:
    return folder / f"{_UNSAFE.sub('_', name)}.lock"


@contextmanager
def source_locks(folder: Path, sources: Sequence[SourceConfig]) -> Iterator[list[SourceConfig]]:
    """Lock what can be locked now; yields the sources this process may crawl."""
    folder.mkdir(parents=True, exist_ok=True)
    held: list[int] = []
    free = []
    try:
        for source in sources:
            fd = os.open(lock_path(folder, source.name), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append(fd)
            free.append(source)
        yield free
    finally:
        for fd in held:
            os.close(fd)  # closing the only descriptor releases the lock


def not_running(folder: Path, names: Iterable[str]) -> list[str]:
    """The sources no process is crawling now: their lock is free (taken and released at once)."""
    idle = []
    for name in names:
        path = lock_path(folder, name)
        if not path.exists():
            idle.append(name)
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            idle.append(name)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return idle
