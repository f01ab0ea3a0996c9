"""The infrastructure every layer below the control plane may be handed: settings, database, clock, ids,
tenants, the change signal, and the per-request rule books and journal.  Built once by the app factory and kept
on ``app.state.rt``.

It holds no service: the services are built from its parts (``emulator.services.Services``), each given
the collaborators it uses, and kept beside it on ``app.state.services``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

from emulator.changes import Signal
from emulator.clock import Clock
from emulator.db import Database
from emulator.ids import Ids
from emulator.journal.recorder import Journal
from emulator.rules.faults import FaultRules
from emulator.rules.responses import ResponseRules
from emulator.settings import Settings
from emulator.tenants import TenantRegistry


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
    """The typed way from a request to the runtime (``services(request)`` to its services)."""
    rt: Runtime = request.app.state.rt
    return rt
