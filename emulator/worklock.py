"""One process at a time on a piece of background work, across ``--workers N``.

Every worker process resumes, when it starts, the work a previous run left unfinished (a batch's lines, an async
task's result): without a hold, two would write the same files at once.  ``claim`` takes an exclusive ``flock`` on
a lock file beside the work's output; another process's claim of it fails until the hold is released (``release``,
when the work ends) or its process dies (the OS drops the lock).  Where there is no ``flock`` (Windows, one process
only) every claim succeeds.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process, nothing to share the work with
    fcntl = None  # type: ignore[assignment]

NO_LOCK = -1
"""The hold where there is no ``flock``."""


def claim(path: Path) -> int | None:
    """The hold on the work whose lock file is ``path`` (created as needed), or None when another process has it."""
    if fcntl is None:
        return NO_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def release(hold: int) -> None:
    if hold != NO_LOCK:
        os.close(hold)  # and with it the lock
