"""The test-control plane under /_emulator/: no API key needed (like LocalStack's internal endpoints)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from emulator import __version__
from emulator.clock import fmt_iso, fmt_job_time
from emulator.control_schemas import ClockAdvance, ClockUpdate, ClockView, Health, ResetRequest, ResetResult
from emulator.http import parse_model, read_json_object
from emulator.openapi import Operation
from emulator.persistence import save_clock
from emulator.runtime import Runtime
from emulator.settings import Settings
from emulator.tenants import tenant_for


def _rt(request: Request) -> Runtime:
    return request.app.state.rt  # type: ignore[no-any-return]


async def health(request: Request) -> JSONResponse:
    rt = _rt(request)
    return JSONResponse({
        "status": "ok",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - rt.started_wall, 3),
        "emulated_time": rt.clock.now(),
        "time_scale": rt.clock.time_scale,
        "seed": rt.settings.seed,
        "internal_errors": rt.stats.get("internal_errors", 0),
    })


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
    removed = await reset_state(_rt(request), tenant)
    return JSONResponse({"status": "reset", "tenant": tenant, "removed": removed})


async def reset_state(rt: Runtime, tenant: str | None) -> dict[str, int]:
    """Every service that holds state wipes its part in one transaction; blobs go after the commit."""
    removed: dict[str, int] = {}
    after: list[object] = []
    async with rt.db.transaction() as tx:
        for name, service in rt.services.items():
            wipe = getattr(service, "wipe", None)
            if wipe is not None:
                count, cleanup = await wipe(tx, tenant)
                removed[name] = count
                after.append(cleanup)
        if tenant is None:
            await tx.execute("DELETE FROM tenants")
    for cleanup in after:
        if callable(cleanup):
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
    for service in rt.services.values():
        sync_all = getattr(service, "sync_all", None)
        if sync_all is not None:
            await sync_all()
    rt.changes.notify()


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


def routes(settings: Settings) -> list[BaseRoute]:
    if not settings.control_plane:
        return []
    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/clock", get_clock, methods=["GET"]),
        Route("/_emulator/clock", set_clock, methods=["POST"]),
        Route("/_emulator/clock/advance", advance_clock, methods=["POST"]),
    ]



operations = [
    Operation("GET", "/_emulator/health", "Health, version, uptime", "control", response=Health, envelope="raw",
              auth=False),
    Operation("POST", "/_emulator/reset", "Wipe all state, or one tenant's", "control", request=ResetRequest,
              response=ResetResult, envelope="raw", auth=False),
    Operation("GET", "/_emulator/clock", "Read the emulated clock", "control", response=ClockView, envelope="raw",
              auth=False),
    Operation("POST", "/_emulator/clock", "Change the clock's speed", "control", request=ClockUpdate,
              response=ClockView, envelope="raw", auth=False),
    Operation("POST", "/_emulator/clock/advance", "Move the clock forward (due transitions apply first)", "control",
              request=ClockAdvance, response=ClockView, envelope="raw", auth=False),
]
