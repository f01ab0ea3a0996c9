"""Persisting the emulated clock in the database, so a restart resumes it."""

from __future__ import annotations

import json

from emulator.clock import ClockState
from emulator.db import get_meta, set_meta
from emulator.runtime import Runtime


async def restore_clock(rt: Runtime) -> None:
    """A restarted server resumes the emulated clock where it stands (it ran on at the old scale meanwhile).

    A worker joining others that already run adopts their published clock instead.
    """
    if rt.clock.shared is not None and rt.settings.workers > 1 and rt.clock.shared.poll() is not None:
        rt.clock.now()  # adopts the published state
        return
    raw = await get_meta(rt.db, "clock")
    if raw is not None:
        rt.clock.resume(ClockState(**json.loads(raw)), rt.settings.time_scale)
    elif rt.clock.shared is not None:
        rt.clock.shared.publish(rt.clock.state)
    await save_clock(rt)


async def save_clock(rt: Runtime) -> None:
    state = rt.clock.state
    async with rt.db.transaction() as tx:
        await set_meta(tx, "clock", json.dumps(state.__dict__))
