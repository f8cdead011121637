"""The daemon's hold on its crawl service: start it, hand it due polls, hear its events, and restart
it when it stops making progress (no heartbeat) or grows past crawl.max_memory.

The service (crawler/service.py) is one child process in a session of its own, with its extraction
workers below it: a restart kills the whole group, records its running rounds as abandoned (what
they stored stays stored), and polls those sources again once the new service is up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)
_PAGE = os.sysconf("SC_PAGE_SIZE")
# Reading the memory of the service's processes costs a scan of /proc: not every second.
MEMORY_CHECK_SECONDS = 10.0


class ServiceProcess:
    """One crawl service child; `events` is called (in a reader thread) for each event it emits."""

    def __init__(self, config_path: Path, events: Callable[[dict[str, Any]], None]) -> None:
        self.config_path = config_path
        self.events = events
        self.child: subprocess.Popen[str] | None = None
        self.last_beat = 0.0
        self.active: set[str] = set()
        self.lock = threading.Lock()
        self.memory_checked = 0.0

    def trouble(self, silent_limit: float, memory_limit: int, memory_limit_text: str) -> str | None:
        """Why the service must be restarted now, if it must: it exited, it went silent (no
        heartbeat: a hung engine), or it grew past crawl.max_memory (looked at every
        MEMORY_CHECK_SECONDS, once it has been up that long)."""
        if not self.alive():
            return "it exited"
        silent = self.silent_for()
        if silent > silent_limit:
            return f"no heartbeat for {silent:.0f}s (crawl.heartbeat_timeout)"
        now = time.monotonic()
        if now - self.memory_checked >= MEMORY_CHECK_SECONDS:
            self.memory_checked = now
            used = self.memory()
            if used > memory_limit:
                return f"it used {used / 2**20:.0f} MB (crawl.max_memory = {memory_limit_text})"
        return None

    def start(self) -> None:
        self.memory_checked = time.monotonic()
        self.child = subprocess.Popen(
            [sys.executable, "-m", "crawler.service", str(self.config_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            start_new_session=True,  # its workers go with it when the group is killed
        )
        self.last_beat = time.monotonic()
        self.active = set()
        threading.Thread(target=self._read, args=(self.child.stdout,), name="service-events",
                         daemon=True).start()
        logger.info("crawl service started (pid %d)", self.child.pid)

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                logger.warning("crawl service said something that is not an event: %.100s", line)
                continue
            with self.lock:
                self.last_beat = time.monotonic()
                if event.get("event") == "heartbeat":
                    self.active = set(event.get("active", []))
                elif event.get("event") == "round":
                    self.active.discard(event.get("source", ""))
            try:
                self.events(event)
            except Exception:  # this thread must go on hearing heartbeats, whatever one event did
                logger.exception("could not handle the crawl service's event %.100s", line)

    def poll(self, name: str) -> bool:
        """Hand the service a due poll; False when it cannot take it now (restarting)."""
        if not self.alive():
            return False
        try:
            self.child.stdin.write(json.dumps({"poll": name}) + "\n")  # type: ignore[union-attr]
            self.child.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            return False
        with self.lock:
            self.active.add(name)
        return True

    def alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def silent_for(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_beat

    def running(self) -> set[str]:
        with self.lock:
            return set(self.active)

    def memory(self) -> int:
        """Bytes the service and its workers use (proportional set size: shared pages counted once)."""
        if not self.alive():
            return 0
        return sum(_pss(pid) for pid in [self.child.pid, *_descendants(self.child.pid)])  # type: ignore[union-attr]

    def stop(self, grace: float) -> None:
        """Ask the service to stop (it lets its rounds finish for `grace`); kill it if it does not."""
        if not self.alive():
            return
        with contextlib.suppress(OSError):
            self.child.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        try:
            self.child.wait(timeout=grace + 15)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            logger.warning("crawl service did not stop within %gs; killing it", grace + 15)
            self.kill()

    def kill(self) -> None:
        if self.child is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(timeout=30)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:  # no smaps_rollup (old kernel): resident pages, shared ones counted in every process
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0
