"""The test-control plane under /_emulator/: no API key needed (like LocalStack's internal endpoints)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from emulator import __version__
from emulator.control import responses, service
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
from emulator.errors import InvalidParameter
from emulator.fine_tunes.schemas import JobObject
from emulator.fine_tunes.wire import job_object
from emulator.http import parse_model, read_json_object, read_model
from emulator.openapi import Operation, Param, endpoint_routes, path_param
from emulator.runtime import Runtime, runtime
from emulator.settings import Settings


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
    q = request.query_params

    def given(name: str) -> str | None:
        value = body.get(name) or q.get(name)
        return str(value) if value else None

    tenant = service.tenant_id(given("api_key"), given("workspace"), given("tenant"))
    removed = await service.reset(_rt(request), tenant)
    return JSONResponse({"status": "reset", "tenant": tenant, "removed": removed})


async def get_clock(request: Request) -> JSONResponse:
    return JSONResponse(service.clock_view(_rt(request)).model_dump())


async def set_clock(request: Request) -> JSONResponse:
    """``{"time_scale": X}`` changes the speed from now on."""
    body = parse_model(ClockUpdate, await read_json_object(request))
    return JSONResponse((await service.set_time_scale(_rt(request), body.time_scale)).model_dump())


async def advance_clock(request: Request) -> JSONResponse:
    body = parse_model(ClockAdvance, await read_json_object(request))
    return JSONResponse((await service.advance_clock(_rt(request), body.seconds)).model_dump())


async def force_deployment_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}`` (or DEPLOYING, RUNNING, DELETING): only along the transition table."""
    body = parse_model(ForceStatusRequest, await read_json_object(request))
    tenant = service.tenant_id(body.api_key, body.workspace, body.tenant)
    name = request.path_params["deployed_model"]
    row = await service.force_deployment_status(_rt(request), name, DeploymentStatus(body.status), body.message, tenant)
    return JSONResponse(deployment_object(row).model_dump())


async def force_fine_tune_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}``: only along the state table, logged in the job's log like a real event."""
    body = await read_model(request, FineTuneStatusUpdate)
    job_id = request.path_params["job_id"]
    job = await service.force_fine_tune_status(_rt(request), job_id, body.status, body.message)
    return JSONResponse(job_object(job).model_dump(exclude_none=True))


# ---------------------------------------------------------------- faults


async def list_faults(request: Request) -> JSONResponse:
    return JSONResponse(FaultRuleList(faults=service.list_faults(_rt(request))).model_dump())


async def add_fault(request: Request) -> JSONResponse:
    rule = service.add_fault(_rt(request), await read_model(request, FaultRuleSpec))
    return JSONResponse(rule.model_dump())


async def clear_faults(request: Request) -> JSONResponse:
    return JSONResponse(FaultsCleared(removed=service.clear_faults(_rt(request))).model_dump())


async def delete_fault(request: Request) -> JSONResponse:
    service.delete_fault(_rt(request), request.path_params["fault_id"])
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
    q = request.query_params
    page = service.journal_page(
        _rt(request),
        method=q.get("method") or None,
        path=q.get("path") or None,
        tenant=q.get("tenant") or None,
        status=_int_param(request, "status", None, 0),
        limit=_int_param(request, "limit", 100, 1) or 100,
    )
    return JSONResponse(page.model_dump())


async def clear_requests(request: Request) -> JSONResponse:
    return JSONResponse(JournalCleared(removed=service.clear_journal(_rt(request))).model_dump())


# ---------------------------------------------------------------- snapshot / restore / seed


async def snapshot(request: Request) -> JSONResponse:
    body = await read_model(request, SnapshotRequest, allow_empty=True)
    return JSONResponse((await service.snapshot(_rt(request), body.path)).model_dump())


async def restore(request: Request) -> JSONResponse:
    """Replace the whole state with a snapshot's, the clock set back to the snapshot's time."""
    body = await read_model(request, RestoreRequest)
    return JSONResponse((await service.restore(_rt(request), body.path)).model_dump())


async def seed(request: Request) -> JSONResponse:
    """Load a world file through the services (the ``seed`` command, on the running server)."""
    body = await read_model(request, SeedRequest)
    return JSONResponse((await service.seed(_rt(request), body.path, reset_first=body.reset)).model_dump())


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
