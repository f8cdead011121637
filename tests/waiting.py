"""Waiting on real processes: poll a condition until it holds or time runs out, never a fixed sleep
standing in for "long enough" (tests must pass on a busy machine)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any


def wait_for(condition: Callable[[], Any], seconds: float, every: float = 0.3) -> Any:
    """The condition's first truthy value within `seconds`, else its value at the end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    return condition()


def stop(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """SIGTERM to a daemon, then its stderr once it has exited. One that outlives `timeout` is
    killed, and its return code then says so."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]
