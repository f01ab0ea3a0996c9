"""The control plane's domain: plain functions on the runtime, called by the control routes, the dashboard's
actions and the ``seed`` command alike.  They take plain values and raise ``ApiError``; none knows HTTP.

Paths given over HTTP are confined (``paths.confine``); the ``seed`` command, run by the user in their own
shell, reads where it is told (``confined=False``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulator.changes import CLOCK
from emulator.clock import fmt_iso, fmt_job_time
from emulator.control.paths import confine, open_regular, read_regular
from emulator.control.persistence import save_clock
from emulator.control.schemas import ClockView, FaultRule, FaultRuleSpec, JournalPage, SeedResult, SnapshotInfo
from emulator.deployments.states import DeploymentStatus
from emulator.errors import InvalidParameter, NotFound
from emulator.fine_tunes.states import JobStatus
from emulator.journal.recorder import entry
from emulator.runtime import Runtime
from emulator.services import Services
from emulator.tenants import tenant_for

MAX_WORLD_BYTES = 16 * 1024 * 1024

# ---------------------------------------------------------------------------------------------------- reset


def tenant_id(api_key: str | None, workspace: str | None, tenant: str | None) -> str | None:
    """A tenant named by its API key (and workspace), or by its id as the dashboard lists them."""
    return tenant_for(api_key, workspace or None).id if api_key else tenant or None


async def reset(rt: Runtime, services: Services, tenant: str | None) -> dict[str, int]:
    """Wipe one tenant's objects, or everything: a whole reset also brings back the start's fault rules, an
    empty journal and the start's response rules (none without ``--responses``)."""
    removed = await wipe_state(rt, services, tenant)
    if tenant is None:
        rt.faults.restore_initial()
        rt.journal.clear()
        services.forget_callbacks()
        rt.responses.restore_initial()
    return removed


async def wipe_state(rt: Runtime, services: Services, tenant: str | None) -> dict[str, int]:
    """Every service that holds state wipes its part in one transaction; blobs go after the commit."""
    async with rt.db.transaction() as tx:
        removed, after = await services.wipe(tx, tenant)
        if tenant is None:
            await tx.execute("DELETE FROM tenants")
    for cleanup in after:
        if callable(cleanup):
            cleanup()
    rt.tenants.forget()
    return removed


# ---------------------------------------------------------------------------------------------------- clock


def clock_view(rt: Runtime) -> ClockView:
    now = rt.clock.now()
    return ClockView(now=now, now_beijing=fmt_job_time(now), now_iso=fmt_iso(now), time_scale=rt.clock.time_scale)


async def after_clock_change(rt: Runtime, services: Services) -> None:
    """Persist the clock and apply every transition that fell due, before answering."""
    await save_clock(rt)
    await services.sync_all()
    rt.changes.notify(CLOCK)


async def set_time_scale(rt: Runtime, services: Services, time_scale: float) -> ClockView:
    rt.clock.set_time_scale(time_scale)
    await after_clock_change(rt, services)
    return clock_view(rt)


async def advance_clock(rt: Runtime, services: Services, seconds: float) -> ClockView:
    rt.clock.advance(seconds)
    await after_clock_change(rt, services)
    return clock_view(rt)


# ---------------------------------------------------------------------------------------------------- statuses


async def force_fine_tune_status(services: Services, job_id: str, status: JobStatus, message: str | None) -> Any:
    return await services.fine_tunes.force_status(job_id, status, message)


async def force_deployment_status(
    services: Services, deployed_model: str, status: DeploymentStatus, message: str | None, tenant: str | None
) -> Any:
    return await services.deployments.force_status(deployed_model, status, message, tenant)


# ---------------------------------------------------------------------------------------------------- faults


def list_faults(rt: Runtime) -> list[FaultRule]:
    return rt.faults.list()


def add_fault(rt: Runtime, spec: FaultRuleSpec) -> FaultRule:
    return rt.faults.add(spec)


def clear_faults(rt: Runtime) -> int:
    return rt.faults.clear()


def delete_fault(rt: Runtime, fault_id: str) -> None:
    if not rt.faults.remove(fault_id):
        raise NotFound(f"No fault rule {fault_id}.")


# ---------------------------------------------------------------------------------------------------- journal


def journal_page(
    rt: Runtime,
    *,
    method: str | None,
    path: str | None,
    tenant: str | None,
    status: int | None,
    limit: int,
    model: str | None = None,
) -> JournalPage:
    found = list(rt.journal.select(method=method, path=path, tenant=tenant, status=status, model=model))
    return JournalPage(capacity=rt.settings.journal_size, total=len(found), requests=[entry(r) for r in found[:limit]])


def clear_journal(rt: Runtime) -> int:
    return rt.journal.clear()


# ---------------------------------------------------------------------------------------------------- snapshots


async def snapshot(rt: Runtime, path: str | None) -> SnapshotInfo:
    from emulator.control.snapshot import take_snapshot  # tarfile and friends: off the start-up path

    return await take_snapshot(rt, path)


async def restore(rt: Runtime, services: Services, path: str) -> SnapshotInfo:
    """Replace the whole state with a snapshot's (all or nothing), the clock set back to the snapshot's time."""
    from emulator.control.snapshot import restore_snapshot

    info = await restore_snapshot(rt, services, path)
    await after_clock_change(rt, services)
    rt.changes.notify()  # everything may have moved: every waiter looks again
    return info


# ---------------------------------------------------------------------------------------------------- seed


async def seed(
    rt: Runtime, services: Services, path: str | Path, *, reset_first: bool = False, confined: bool = True
) -> SeedResult:
    """Load a world file through the services; a bad world answers 400 and what was made before it stays."""
    from emulator.control.seed import WorldError, load_world, read_world  # off the start-up path

    world_path = confine(rt, path, Path.cwd()) if confined else Path(path)

    def allow(file: Path) -> Path:
        """Confined (over HTTP), and a regular file: never a FIFO or a device to block on."""
        allowed = confine(rt, file, world_path.parent) if confined else file
        with open_regular(allowed):
            return allowed

    try:
        world = read_world(world_path, read_regular(allow(world_path), MAX_WORLD_BYTES))
        if reset_first:
            await wipe_state(rt, services, None)
        summary = await load_world(rt, services, world, world_path.parent, allow)
    except WorldError as exc:
        raise InvalidParameter(str(exc)) from None
    finally:
        await after_clock_change(rt, services)
        rt.changes.notify()
    return SeedResult(**summary)
