"""The control plane's handlers (their routes and documentation: ``control.routes``), imported on the first
control request: the schemas and the service behind them stay off the start-up path."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from emulator.batches.schemas import CallbackAttempt, CallbackPage, CallbacksCleared
from emulator.control import service
from emulator.control.schemas import (
    ClockAdvance,
    ClockUpdate,
    FaultRuleList,
    FaultRuleSpec,
    FaultsCleared,
    FineTuneStatusUpdate,
    JournalCleared,
    ResponseRuleList,
    ResponseRuleSpec,
    ResponsesCleared,
    RestoreRequest,
    SeedRequest,
    SnapshotRequest,
)
from emulator.deployments.schemas import ForceStatusRequest
from emulator.deployments.states import DeploymentStatus
from emulator.deployments.wire import deployment_object
from emulator.errors import InvalidParameter, NotFound
from emulator.fine_tunes.wire import job_object
from emulator.http import parse_model, read_json_object, read_model
from emulator.rules.responses import ResponseRules
from emulator.runtime import Runtime, runtime
from emulator.services import services


def _rt(request: Request) -> Runtime:
    return runtime(request)


async def reset(request: Request) -> JSONResponse:
    """Wipe everything, or one tenant's objects: ``{"api_key": "...", "workspace"?: "..."}`` or ``?api_key=``,
    or ``{"tenant": "<tenant id>"}`` as the dashboard lists them (it never sees the keys)."""
    body = await read_json_object(request, allow_empty=True)
    q = request.query_params

    def given(name: str) -> str | None:
        value = body.get(name) or q.get(name)
        return str(value) if value else None

    tenant = service.tenant_id(given("api_key"), given("workspace"), given("tenant"))
    removed = await service.reset(_rt(request), services(request), tenant)
    return JSONResponse({"status": "reset", "tenant": tenant, "removed": removed})


async def get_clock(request: Request) -> JSONResponse:
    return JSONResponse(service.clock_view(_rt(request)).model_dump())


async def set_clock(request: Request) -> JSONResponse:
    """``{"time_scale": X}`` changes the speed from now on."""
    body = parse_model(ClockUpdate, await read_json_object(request))
    return JSONResponse((await service.set_time_scale(_rt(request), services(request), body.time_scale)).model_dump())


async def advance_clock(request: Request) -> JSONResponse:
    body = parse_model(ClockAdvance, await read_json_object(request))
    return JSONResponse((await service.advance_clock(_rt(request), services(request), body.seconds)).model_dump())


async def force_deployment_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}`` (or DEPLOYING, RUNNING, DELETING): only along the transition table."""
    body = parse_model(ForceStatusRequest, await read_json_object(request))
    tenant = service.tenant_id(body.api_key, body.workspace, body.tenant)
    name = request.path_params["deployed_model"]
    row = await service.force_deployment_status(
        services(request), name, DeploymentStatus(body.status), body.message, tenant
    )
    return JSONResponse(deployment_object(row).model_dump())


async def force_fine_tune_status(request: Request) -> JSONResponse:
    """``{"status": "FAILED", "message"?}``: only along the state table, logged in the job's log like a real event."""
    body = await read_model(request, FineTuneStatusUpdate)
    job_id = request.path_params["job_id"]
    job = await service.force_fine_tune_status(services(request), job_id, body.status, body.message)
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
    """Newest first; ``method``, ``path`` (exact or glob), ``tenant`` (id or API key), ``status``, ``model``
    (exact or glob), ``limit``."""
    q = request.query_params
    page = service.journal_page(
        _rt(request),
        method=q.get("method") or None,
        path=q.get("path") or None,
        tenant=q.get("tenant") or None,
        status=_int_param(request, "status", None, 0),
        limit=_int_param(request, "limit", 100, 1) or 100,
        model=q.get("model") or None,
    )
    return JSONResponse(page.model_dump())


async def clear_requests(request: Request) -> JSONResponse:
    return JSONResponse(JournalCleared(removed=service.clear_journal(_rt(request))).model_dump())


# ---------------------------------------------------------------- batch finish callbacks


async def list_callbacks(request: Request) -> JSONResponse:
    """Every finish callback attempt (delivered, refused, failed, dropped), newest first; ``batch_id``, ``limit``."""
    outbox = services(request).callbacks
    limit = _int_param(request, "limit", 100, 1) or 100
    total, found = outbox.attempts(request.query_params.get("batch_id") or None, limit)
    page = CallbackPage(
        capacity=outbox.capacity, total=total, pending=outbox.pending(), callbacks=[CallbackAttempt(**a) for a in found]
    )
    return JSONResponse(page.model_dump())


async def clear_callbacks(request: Request) -> JSONResponse:
    return JSONResponse(CallbacksCleared(removed=services(request).callbacks.clear()).model_dump())


# ---------------------------------------------------------------- snapshot / restore / seed


async def snapshot(request: Request) -> JSONResponse:
    body = await read_model(request, SnapshotRequest, allow_empty=True)
    return JSONResponse((await service.snapshot(_rt(request), body.path)).model_dump())


async def restore(request: Request) -> JSONResponse:
    """Replace the whole state with a snapshot's, the clock set back to the snapshot's time."""
    body = await read_model(request, RestoreRequest)
    return JSONResponse((await service.restore(_rt(request), services(request), body.path)).model_dump())


async def seed(request: Request) -> JSONResponse:
    """Load a world file through the services (the ``seed`` command, on the running server)."""
    body = await read_model(request, SeedRequest)
    return JSONResponse(
        (await service.seed(_rt(request), services(request), body.path, reset_first=body.reset)).model_dump()
    )


# ---------------------------------------------------------------- response rules


def _rules(request: Request) -> ResponseRules:
    return _rt(request).responses


async def list_responses(request: Request) -> JSONResponse:
    return JSONResponse(ResponseRuleList(responses=_rules(request).list()).model_dump())


async def add_response(request: Request) -> JSONResponse:
    return JSONResponse(_rules(request).add(await read_model(request, ResponseRuleSpec)).model_dump())


async def clear_responses(request: Request) -> JSONResponse:
    return JSONResponse(ResponsesCleared(removed=_rules(request).clear()).model_dump())


async def delete_response(request: Request) -> JSONResponse:
    rule_id = request.path_params["rule_id"]
    if not _rules(request).remove(rule_id):
        raise NotFound(f"No response rule {rule_id}.")
    return JSONResponse(ResponsesCleared(removed=1).model_dump())
