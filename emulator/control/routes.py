"""The test-control plane under /_emulator/: no API key needed (like LocalStack's internal endpoints)."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from emulator import __version__
from emulator.clock import fmt_iso, fmt_job_time
from emulator.control import responses
from emulator.control.journal import entry
from emulator.control.persistence import save_clock
from emulator.control.schemas import (
    ClockAdvance,
    ClockUpdate,
    ClockView,
    FaultRule,
    FaultRuleList,
    FaultRuleSpec,
    FaultsCleared,
    FineTuneStatusUpdate,
    Health,
    JournalCleared,
    JournalPage,
    ResetRequest,
    ResetResult,
    RestoreRequest,
    SeedRequest,
    SeedResult,
    SnapshotInfo,
    SnapshotRequest,
)
from emulator.deployments.schemas import DeploymentObject, ForceStatusRequest
from emulator.deployments.states import DeploymentStatus
from emulator.deployments.wire import deployment_object
from emulator.errors import InvalidParameter, NotFound
from emulator.fine_tunes.schemas import JobObject
from emulator.fine_tunes.wire import job_object
from emulator.http import parse_model, read_json_object, read_model
from emulator.openapi import Operation, Param, endpoint_routes, path_param
from emulator.runtime import CLOCK, Runtime, runtime
from emulator.settings import Settings
from emulator.tenants import tenant_for


def _rt(request: Request) -> Runtime:
    return runtime(request)


async def health(request: Request) -> JSONResponse:
    rt = _rt(request)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - rt.started_wall, 3),
            "emulated_time": rt.clock.now(),
            "time_scale": rt.clock.time_scale,
            "seed": rt.settings.seed,
            "internal_errors": rt.stats.get("internal_errors", 0),
        }
    )


async def reset(request: Request) -> JSONResponse:
    """Wipe everything, or one tenant's objects: ``{"api_key": "...", "workspace"?: "..."}`` or ``?api_key=``,
    or ``{"tenant": "<tenant id>"}`` as the dashboard lists them (it never sees the keys)."""
    body = await read_json_object(request, allow_empty=True)
    api_key = body.get("api_key") or request.query_params.get("api_key")
    workspace = body.get("workspace") or request.query_params.get("workspace")
    tenant = tenant_for(str(api_key), str(workspace) if workspace else None).id if api_key else None
    tenant_id = body.get("tenant") or request.query_params.get("tenant")
    if tenant is None and tenant_id:
        tenant = str(tenant_id)
    rt = _rt(request)
    removed = await reset_state(rt, tenant)
    if tenant is None:  # a whole reset also brings the control plane back to its start: --faults rules, no journal
        rt.faults.restore_initial()
        rt.journal.clear()
        rt.responses.clear()
    return JSONResponse({"status": "reset", "tenant": tenant, "removed": removed})


async def reset_state(rt: Runtime, tenant: str | None) -> dict[str, int]:
    """Every service that holds state wipes its part in one transaction; blobs go after the commit."""
    async with rt.db.transaction() as tx:
        removed, after = await rt.services.wipe(tx, tenant)
        if tenant is None:
            await tx.execute("DELETE FROM tenants")
    for cleanup in after:
        if cleanup is not None:
            cleanup()
    rt.tenants.forget()
    return removed


def _clock_view(rt: Runtime) -> dict[str, object]:
    now = rt.clock.now()
    return {"now": now, "now_beijing": fmt_job_time(now), "now_iso": fmt_iso(now), "time_scale": rt.clock.time_scale}


async def get_clock(request: Request) -> JSONResponse:
    return JSONResponse(_clock_view(_rt(request)))


async def _after_clock_change(rt: Runtime) -> None:
    """Persist the clock and apply every transition that fell due, before answering."""
    await save_clock(rt)
    await rt.services.sync_all()
    rt.changes.notify(CLOCK)


async def set_clock(request: Request) -> JSONResponse:
    """``{"time_scale": X}`` changes the speed from now on."""
    rt = _rt(request)
    body = parse_model(ClockUpdate, await read_json_object(request))
    rt.clock.set_time_scale(body.time_scale)
    await _after_clock_change(rt)
    return JSONResponse(_clock_view(rt))


async def advance_clock(request: Request) -> JSONResponse:
    rt = _rt(request)
    body = parse_model(ClockAdvance, await read_json_object(request))
    rt.clock.advance(body.seconds)
    await _after_clock_change(rt)
    return JSONResponse(_clock_view(rt))


async def force_deployment_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}`` (or DEPLOYING, RUNNING, DELETING): only along the transition table."""
    body = parse_model(ForceStatusRequest, await read_json_object(request))
    tenant = tenant_for(body.api_key, body.workspace).id if body.api_key else body.tenant
    row = await _rt(request).services.deployments.force_status(
        request.path_params["deployed_model"], DeploymentStatus(body.status), body.message, tenant
    )
    return JSONResponse(deployment_object(row).model_dump())


async def force_fine_tune_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}``: only along the state table, logged in the job's log like a real event."""
    body = await read_model(request, FineTuneStatusUpdate)
    job = await _rt(request).services.fine_tunes.force_status(request.path_params["job_id"], body.status, body.message)
    return JSONResponse(job_object(job).model_dump(exclude_none=True))


# ---------------------------------------------------------------- faults


async def list_faults(request: Request) -> JSONResponse:
    return JSONResponse(FaultRuleList(faults=_rt(request).faults.list()).model_dump())


async def add_fault(request: Request) -> JSONResponse:
    rule = _rt(request).faults.add(await read_model(request, FaultRuleSpec))
    return JSONResponse(rule.model_dump())


async def clear_faults(request: Request) -> JSONResponse:
    return JSONResponse(FaultsCleared(removed=_rt(request).faults.clear()).model_dump())


async def delete_fault(request: Request) -> JSONResponse:
    fault_id = request.path_params["fault_id"]
    if not _rt(request).faults.remove(fault_id):
        raise NotFound(f"No fault rule {fault_id}.")
    return JSONResponse(FaultsCleared(removed=1).model_dump())


# ---------------------------------------------------------------- request journal


def _int_param(request: Request, name: str, default: int | None, low: int) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer.", param=name) from None
    if value < low:
        raise InvalidParameter(f"{name} must be >= {low}.", param=name)
    return value


async def list_requests(request: Request) -> JSONResponse:
    """Newest first; ``method``, ``path`` (exact or glob), ``tenant`` (id or API key), ``status``, ``limit``."""
    rt = _rt(request)
    q = request.query_params
    limit = _int_param(request, "limit", 100, 1) or 100
    status = _int_param(request, "status", None, 0)
    found = list(
        rt.journal.select(
            method=q.get("method") or None, path=q.get("path") or None, tenant=q.get("tenant") or None, status=status
        )
    )
    page = JournalPage(capacity=rt.settings.journal_size, total=len(found), requests=[entry(r) for r in found[:limit]])
    return JSONResponse(page.model_dump())


async def clear_requests(request: Request) -> JSONResponse:
    return JSONResponse(JournalCleared(removed=_rt(request).journal.clear()).model_dump())


# ---------------------------------------------------------------- snapshot / restore


async def snapshot(request: Request) -> JSONResponse:
    from emulator.control.snapshot import take_snapshot  # tarfile and friends: off the start-up path

    body = await read_model(request, SnapshotRequest, allow_empty=True)
    return JSONResponse((await take_snapshot(_rt(request), body.path)).model_dump())


async def restore(request: Request) -> JSONResponse:
    """Replace the whole state with a snapshot's, the clock set back to the snapshot's time."""
    from emulator.control.snapshot import restore_snapshot

    rt = _rt(request)
    body = await read_model(request, RestoreRequest)
    info = await restore_snapshot(rt, body.path, reset_state)
    await _after_clock_change(rt)
    return JSONResponse(info.model_dump())


async def seed(request: Request) -> JSONResponse:
    """Load a world file through the services (the ``seed`` command, on the running server)."""
    from emulator.control.seed import WorldError, load_world, read_world  # off the start-up path

    rt = _rt(request)
    body = await read_model(request, SeedRequest)
    path = Path(body.path)
    try:
        world = read_world(path)
        if body.reset:
            await reset_state(rt, None)
        summary = await load_world(rt, world, path.parent)
    except WorldError as exc:
        raise InvalidParameter(str(exc)) from None
    finally:
        await _after_clock_change(rt)
    return JSONResponse(SeedResult(**summary).model_dump())


def routes(settings: Settings) -> list[BaseRoute]:
    """The control plane's routes (none under ``--no-control-plane``; the document lists them either way)."""
    return endpoint_routes(operations) if settings.control_plane else []


operations = [
    Operation(
        "GET",
        "/_emulator/health",
        "Health, version, uptime",
        "control",
        response=Health,
        envelope="raw",
        auth=False,
        endpoint=health,
    ),
    Operation(
        "POST",
        "/_emulator/reset",
        "Wipe all state, or one tenant's",
        "control",
        request=ResetRequest,
        response=ResetResult,
        envelope="raw",
        auth=False,
        endpoint=reset,
    ),
    Operation(
        "GET",
        "/_emulator/clock",
        "Read the emulated clock",
        "control",
        response=ClockView,
        envelope="raw",
        auth=False,
        endpoint=get_clock,
    ),
    Operation(
        "POST",
        "/_emulator/clock",
        "Change the clock's speed",
        "control",
        request=ClockUpdate,
        response=ClockView,
        envelope="raw",
        auth=False,
        endpoint=set_clock,
    ),
    Operation(
        "POST",
        "/_emulator/clock/advance",
        "Move the clock forward (due transitions apply first)",
        "control",
        request=ClockAdvance,
        response=ClockView,
        envelope="raw",
        auth=False,
        endpoint=advance_clock,
    ),
    Operation(
        "POST",
        "/_emulator/deployments/{deployed_model}/status",
        "Force a deployment's status (FAILED, ...)",
        "control",
        request=ForceStatusRequest,
        response=DeploymentObject,
        envelope="raw",
        auth=False,
        params=(path_param("deployed_model"),),
        endpoint=force_deployment_status,
    ),
    Operation(
        "POST",
        "/_emulator/fine-tunes/{job_id}/status",
        "Force a fine-tune's status (FAILED, ...)",
        "control",
        request=FineTuneStatusUpdate,
        response=JobObject,
        envelope="raw",
        auth=False,
        params=(path_param("job_id"),),
        endpoint=force_fine_tune_status,
    ),
    Operation(
        "GET",
        "/_emulator/faults",
        "List the fault rules",
        "control",
        response=FaultRuleList,
        envelope="raw",
        auth=False,
        endpoint=list_faults,
    ),
    Operation(
        "POST",
        "/_emulator/faults",
        "Add a fault rule",
        "control",
        request=FaultRuleSpec,
        response=FaultRule,
        envelope="raw",
        auth=False,
        endpoint=add_fault,
    ),
    Operation(
        "DELETE",
        "/_emulator/faults",
        "Remove every fault rule",
        "control",
        response=FaultsCleared,
        envelope="raw",
        auth=False,
        endpoint=clear_faults,
    ),
    Operation(
        "DELETE",
        "/_emulator/faults/{fault_id}",
        "Remove one fault rule",
        "control",
        response=FaultsCleared,
        envelope="raw",
        auth=False,
        params=(path_param("fault_id"),),
        endpoint=delete_fault,
    ),
    Operation(
        "GET",
        "/_emulator/requests",
        "The request journal, newest first",
        "control",
        response=JournalPage,
        envelope="raw",
        auth=False,
        params=(
            Param("method"),
            Param("path", description="Exact or a glob (`/api/v1/files*`)."),
            Param("tenant", description="A tenant id or an API key."),
            Param("status", schema={"type": "integer", "minimum": 0}),
            Param("limit", schema={"type": "integer", "minimum": 1, "default": 100}),
        ),
        endpoint=list_requests,
    ),
    Operation(
        "DELETE",
        "/_emulator/requests",
        "Clear the request journal",
        "control",
        response=JournalCleared,
        envelope="raw",
        auth=False,
        endpoint=clear_requests,
    ),
    Operation(
        "POST",
        "/_emulator/snapshot",
        "Write the whole state to an archive",
        "control",
        request=SnapshotRequest,
        response=SnapshotInfo,
        envelope="raw",
        auth=False,
        endpoint=snapshot,
    ),
    Operation(
        "POST",
        "/_emulator/restore",
        "Replace the whole state with a snapshot's",
        "control",
        request=RestoreRequest,
        response=SnapshotInfo,
        envelope="raw",
        auth=False,
        endpoint=restore,
    ),
    Operation(
        "POST",
        "/_emulator/seed",
        "Load a world file (fixtures/world.json) through the services",
        "control",
        request=SeedRequest,
        response=SeedResult,
        envelope="raw",
        auth=False,
        endpoint=seed,
    ),
    *responses.operations,
]
