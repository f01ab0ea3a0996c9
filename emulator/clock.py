"""The emulated clock: the one source of "now" for every timestamp and every state transition.

Emulated time runs at ``time_scale`` emulated seconds per wall second from an anchor, and can be
moved forward at any time (``advance``).  With a scale of 0 it moves only when advanced.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from emulator.errors import InvalidParameter

BEIJING = timezone(timedelta(hours=8))

MAX_EMULATED_TIME = 253_370_764_800.0
"""9999-01-01T00:00:00Z: the emulated clock never passes it (``now()`` saturates there, an advance past it is
refused), so every timestamp stays formattable, with a year's room for a job's or deployment's future times."""


class ClockOverflow(InvalidParameter):
    """An advance past ``MAX_EMULATED_TIME``: a 400 wherever it is asked for (control plane, dashboard, seed)."""


@dataclass
class ClockState:
    anchor_wall: float
    anchor_emulated: float
    time_scale: float


class SharedClockFile:
    """Publishes the clock's state to a file in the data dir so that every worker process agrees on "now".

    A change is written to a temp name and renamed over the file; readers notice it by its inode and mtime
    (one ``stat`` per read) and load it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None

    def publish(self, state: ClockState) -> None:
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temp.write_text(json.dumps(asdict(state)))
        os.replace(temp, self.path)
        self._seen = self._signature()

    def poll(self) -> ClockState | None:
        signature = self._signature()
        if signature is None or signature == self._seen:
            return None
        try:
            state = ClockState(**json.loads(self.path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        self._seen = signature
        return state

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size


class Clock:
    def __init__(
        self, state: ClockState, wall: Callable[[], float] = time.time, shared: SharedClockFile | None = None
    ) -> None:
        self._wall = wall
        self.state = state
        self.shared = shared

    @classmethod
    def starting_at(cls, emulated: float | None, time_scale: float, wall: Callable[[], float] = time.time) -> Clock:
        now = wall()
        return cls(ClockState(now, now if emulated is None else emulated, time_scale), wall)

    @property
    def time_scale(self) -> float:
        return self.state.time_scale

    def now(self) -> float:
        if self.shared is not None:
            published = self.shared.poll()
            if published is not None:
                self.state = published
        s = self.state
        return min(s.anchor_emulated + (self._wall() - s.anchor_wall) * s.time_scale, MAX_EMULATED_TIME)

    def wall_seconds_until(self, emulated: float) -> float | None:
        """Wall seconds until the clock reaches ``emulated``; None when a frozen clock never will."""
        delta = emulated - self.now()
        if delta <= 0:
            return 0.0
        if self.state.time_scale == 0:
            return None
        return delta / self.state.time_scale

    def resume(self, stored: ClockState, time_scale: float) -> None:
        """Continue from a persisted state: its "now" becomes ours, at the given scale from here on."""
        self.state = ClockState(self._wall(), Clock(stored, self._wall).now(), time_scale)
        self._publish()

    def advance(self, seconds: float) -> float:
        """Move forward; refused (nothing changes) when it would pass ``MAX_EMULATED_TIME``."""
        if self.now() + seconds > MAX_EMULATED_TIME:
            raise ClockOverflow(
                f"advancing {seconds:g} s would take the emulated clock past 9999-01-01T00:00:00Z "
                f"(it stands at {fmt_iso(self.now())})"
            )
        self._reanchor()
        self.state.anchor_emulated += seconds
        self._publish()
        return self.now()

    def set_time_scale(self, time_scale: float) -> None:
        self._reanchor()
        self.state.time_scale = time_scale
        self._publish()

    def _publish(self) -> None:
        if self.shared is not None:
            self.shared.publish(self.state)

    def _reanchor(self) -> None:
        now = self.now()
        self.state = ClockState(self._wall(), now, self.state.time_scale)


def beijing(ts: float) -> datetime:
    return datetime.fromtimestamp(_clamp(ts), BEIJING)


def _clamp(ts: float) -> float:
    """Stored times come from the clock, but a restored snapshot or an old database may hold anything."""
    return 0.0 if not ts >= 0 else min(ts, MAX_EMULATED_TIME)


@functools.lru_cache(maxsize=8192)
def fmt_job_time(ts: float) -> str:
    """Fine-tune and file times: ``YYYY-MM-DD HH:MM:SS``, Beijing wall time, no zone (reference §1.7)."""
    return beijing(ts).strftime("%Y-%m-%d %H:%M:%S")


@functools.lru_cache(maxsize=8192)
def fmt_deploy_time(ts: float) -> str:
    """Deployment times: ISO without zone, milliseconds, as the seed shows ``2024-10-12T15:59:55.494``."""
    return beijing(ts).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def fmt_iso(ts: float) -> str:
    return datetime.fromtimestamp(_clamp(ts), UTC).isoformat().replace("+00:00", "Z")
