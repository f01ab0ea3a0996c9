"""Everything a request handler can reach, built once by the app factory and kept on ``app.state.rt``.

The runtime is the infrastructure (settings, database, clock, ids, control-plane state) plus ``services``, the
typed ``emulator.services.Services``: the services are built from the runtime (``Services.build(rt)``), so
``create_app`` sets that one field right after constructing the runtime, before anything can read it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request

from emulator.clock import Clock
from emulator.db import Database
from emulator.ids import Ids
from emulator.journal.recorder import Journal
from emulator.rules.faults import FaultRules
from emulator.rules.responses import ResponseRules
from emulator.settings import Settings
from emulator.tenants import TenantRegistry

if TYPE_CHECKING:
    from emulator.services import Services

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


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    ids: Ids
    data_dir: Path
    tenants: TenantRegistry
    stats: dict[str, int] = field(default_factory=dict)
    started_wall: float = field(default_factory=time.monotonic)
    services: Services = field(init=False, repr=False)
    changes: Signal = field(default_factory=Signal)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    faults: FaultRules = field(default_factory=FaultRules)
    journal: Journal = field(default_factory=lambda: Journal(0))
    responses: ResponseRules = field(default_factory=ResponseRules)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def temp_dir(self) -> Path:
        return self.data_dir / "tmp"


def runtime(request: Request) -> Runtime:
    """The typed way from a request to the runtime (and its ``services``)."""
    rt: Runtime = request.app.state.rt
    return rt
