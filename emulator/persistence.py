"""Persisting the emulated clock in the database, so a restart resumes it."""

from __future__ import annotations

import json

from emulator.clock import ClockState
from emulator.db import get_meta, set_meta
from emulator.runtime import Runtime


async def restore_clock(rt: Runtime) -> None:
    """A restarted server resumes the emulated clock where it stands (it ran on at the old scale meanwhile)."""
    raw = await get_meta(rt.db, "clock")
    if raw is not None:
        rt.clock.resume(ClockState(**json.loads(raw)), rt.settings.time_scale)
    await save_clock(rt)


async def save_clock(rt: Runtime) -> None:
    state = rt.clock.state
    async with rt.db.transaction() as tx:
        await set_meta(tx, "clock", json.dumps(state.__dict__))
