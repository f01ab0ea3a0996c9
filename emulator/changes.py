"""What moved: the one signal long waits (a job's event stream, a deployment's, the dashboard's live pages) sleep
on, woken by the services that move state and by the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

CLOCK = "clock"
"""The key notified when the emulated clock jumps or changes speed: what moves with time alone (a log) waits on it."""
_ANY = "*"


class Signal:
    """Wakes the waiters of what moved.

    ``notify(*keys)`` names what moved (a job id, a tenant id, ``CLOCK``) and wakes only the waiters on those keys
    (and the waiters on no key at all); ``notify()`` with no key wakes everyone.  A waiter costs nothing to the
    notifier of another key, so streams of one tenant are not woken by another tenant's changes.
    """

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def notify(self, *keys: str) -> None:
        for key in (*keys, _ANY) if keys else list(self._waiters):
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self, timeout: float | None, keys: Iterable[str] = ()) -> bool:
        """True when woken, False when ``timeout`` seconds passed first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        names = tuple(keys) or (_ANY,)
        for key in names:
            self._waiters.setdefault(key, set()).add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        finally:
            for key in names:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[key]
        return True

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
