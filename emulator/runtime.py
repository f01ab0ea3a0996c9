"""Everything a request handler can reach, built once by the app factory and kept on ``app.state.rt``.

The runtime is the infrastructure (settings, database, clock, ids, control-plane state) plus ``services``, the
typed ``emulator.services.Services``: the services are built from the runtime (``Services.build(rt)``), so
``create_app`` sets that one field right after constructing the runtime, before anything can read it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request

from emulator.clock import Clock
from emulator.control.faults import FaultRules
from emulator.control.journal import Journal
from emulator.control.responses import ResponseRules
from emulator.db import Database
from emulator.ids import Ids
from emulator.settings import Settings
from emulator.tenants import TenantRegistry

if TYPE_CHECKING:
    from emulator.services import Services


class Signal:
    """Wakes every waiter when state may have moved (clock advanced, a job created or canceled)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> bool:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


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
