"""The test-control plane under /_emulator/: no API key needed (like LocalStack's internal endpoints).

One declaration per endpoint, as for the service's resources; but the handlers (``control.handlers``) and the
schemas (``control.schemas``) are named, not imported: they are imported on the first control request and when
the OpenAPI document is built, so a server that is never driven through its control plane never loads them.
The health check, which every start-up waits for, is the exception: it is here, imported with the table.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from emulator import __version__, lazy
from emulator.lazy import Endpoint
from emulator.openapi import Operation, Param, endpoint_routes, path_param
from emulator.runtime import runtime
from emulator.settings import Settings


def _handler(name: str) -> Endpoint:
    return lazy.handler(f"emulator.control.handlers:{name}")


def _catalog(name: str) -> Endpoint:
    """``/_emulator/models``: the model catalog's handlers (``emulator.catalog.handlers``)."""
    return lazy.handler(f"emulator.catalog.handlers:{name}")


def _schema(name: str) -> str:
    return f"emulator.control.schemas:{name}"


async def health(request: Request) -> JSONResponse:
    rt = runtime(request)
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


def routes(settings: Settings) -> list[BaseRoute]:
    """The control plane's routes (none when ``Settings.control_plane`` is off, as in-process tests may set it;
    the document lists them either way)."""
    return endpoint_routes(operations) if settings.control_plane else []


_MODELS = [
    Operation(
        "GET",
        "/_emulator/models",
        "The model catalog with capabilities (bundled and user-added)",
        "control",
        envelope="raw",
        auth=False,
        params=(
            Param("q", description="keep models whose id contains this"),
            Param("user", description="true: only the models added by --models or POST"),
        ),
        endpoint=_catalog("list_models"),
    ),
    Operation(
        "GET",
        "/_emulator/models/{model}",
        "One model's capabilities",
        "control",
        envelope="raw",
        auth=False,
        params=(path_param("model"),),
        endpoint=_catalog("get_model"),
    ),
    Operation(
        "POST",
        "/_emulator/models",
        "Add or override models (serving.json's entry format; `like` copies a model)",
        "control",
        envelope="raw",
        auth=False,
        endpoint=_catalog("add_models"),
    ),
    Operation(
        "DELETE",
        "/_emulator/models/{model}",
        "Remove a user model (an overridden bundled model comes back)",
        "control",
        envelope="raw",
        auth=False,
        params=(path_param("model"),),
        endpoint=_catalog("remove_model"),
    ),
]


operations = [
    Operation(
        "GET",
        "/_emulator/health",
        "Health, version, uptime",
        "control",
        response=_schema("Health"),
        envelope="raw",
        auth=False,
        endpoint=health,
    ),
    Operation(
        "POST",
        "/_emulator/reset",
        "Wipe all state, or one tenant's",
        "control",
        request=_schema("ResetRequest"),
        response=_schema("ResetResult"),
        envelope="raw",
        auth=False,
        endpoint=_handler("reset"),
    ),
    Operation(
        "GET",
        "/_emulator/clock",
        "Read the emulated clock",
        "control",
        response=_schema("ClockView"),
        envelope="raw",
        auth=False,
        endpoint=_handler("get_clock"),
    ),
    Operation(
        "POST",
        "/_emulator/clock",
        "Change the clock's speed",
        "control",
        request=_schema("ClockUpdate"),
        response=_schema("ClockView"),
        envelope="raw",
        auth=False,
        endpoint=_handler("set_clock"),
    ),
    Operation(
        "POST",
        "/_emulator/clock/advance",
        "Move the clock forward (due transitions apply first)",
        "control",
        request=_schema("ClockAdvance"),
        response=_schema("ClockView"),
        envelope="raw",
        auth=False,
        endpoint=_handler("advance_clock"),
    ),
    Operation(
        "POST",
        "/_emulator/deployments/{deployed_model}/status",
        "Force a deployment's status (FAILED, ...)",
        "control",
        request="emulator.deployments.schemas:ForceStatusRequest",
        response="emulator.deployments.schemas:DeploymentObject",
        envelope="raw",
        auth=False,
        params=(path_param("deployed_model"),),
        endpoint=_handler("force_deployment_status"),
    ),
    Operation(
        "POST",
        "/_emulator/fine-tunes/{job_id}/status",
        "Force a fine-tune's status (FAILED, ...)",
        "control",
        request=_schema("FineTuneStatusUpdate"),
        response="emulator.fine_tunes.schemas:JobObject",
        envelope="raw",
        auth=False,
        params=(path_param("job_id"),),
        endpoint=_handler("force_fine_tune_status"),
    ),
    Operation(
        "GET",
        "/_emulator/faults",
        "List the fault rules",
        "control",
        response=_schema("FaultRuleList"),
        envelope="raw",
        auth=False,
        endpoint=_handler("list_faults"),
    ),
    Operation(
        "POST",
        "/_emulator/faults",
        "Add a fault rule",
        "control",
        request=_schema("FaultRuleSpec"),
        response=_schema("FaultRule"),
        envelope="raw",
        auth=False,
        endpoint=_handler("add_fault"),
    ),
    Operation(
        "DELETE",
        "/_emulator/faults",
        "Remove every fault rule",
        "control",
        response=_schema("FaultsCleared"),
        envelope="raw",
        auth=False,
        endpoint=_handler("clear_faults"),
    ),
    Operation(
        "DELETE",
        "/_emulator/faults/{fault_id}",
        "Remove one fault rule",
        "control",
        response=_schema("FaultsCleared"),
        envelope="raw",
        auth=False,
        params=(path_param("fault_id"),),
        endpoint=_handler("delete_fault"),
    ),
    Operation(
        "GET",
        "/_emulator/requests",
        "The request journal, newest first",
        "control",
        response=_schema("JournalPage"),
        envelope="raw",
        auth=False,
        params=(
            Param("method"),
            Param("path", description="Exact or a glob (`/api/v1/files*`)."),
            Param("tenant", description="A tenant id or an API key."),
            Param("status", schema={"type": "integer", "minimum": 0}),
            Param("model", description="The JSON body's `model`: exact or a glob (`qwen-*`)."),
            Param("limit", schema={"type": "integer", "minimum": 1, "default": 100}),
        ),
        endpoint=_handler("list_requests"),
    ),
    Operation(
        "DELETE",
        "/_emulator/requests",
        "Clear the request journal",
        "control",
        response=_schema("JournalCleared"),
        envelope="raw",
        auth=False,
        endpoint=_handler("clear_requests"),
    ),
    Operation(
        "GET",
        "/_emulator/callbacks",
        "The batch finish callbacks attempted (delivered, refused by the host policy, failed), newest first",
        "control",
        response="emulator.batches.schemas:CallbackPage",
        envelope="raw",
        auth=False,
        params=(
            Param("batch_id"),
            Param("limit", schema={"type": "integer", "minimum": 1, "default": 100}),
        ),
        endpoint=_handler("list_callbacks"),
    ),
    Operation(
        "DELETE",
        "/_emulator/callbacks",
        "Clear the list of callback attempts",
        "control",
        response="emulator.batches.schemas:CallbacksCleared",
        envelope="raw",
        auth=False,
        endpoint=_handler("clear_callbacks"),
    ),
    Operation(
        "POST",
        "/_emulator/snapshot",
        "Write the whole state to an archive",
        "control",
        request=_schema("SnapshotRequest"),
        response=_schema("SnapshotInfo"),
        envelope="raw",
        auth=False,
        endpoint=_handler("snapshot"),
    ),
    Operation(
        "POST",
        "/_emulator/restore",
        "Replace the whole state with a snapshot's",
        "control",
        request=_schema("RestoreRequest"),
        response=_schema("SnapshotInfo"),
        envelope="raw",
        auth=False,
        endpoint=_handler("restore"),
    ),
    Operation(
        "POST",
        "/_emulator/seed",
        "Load a world file (fixtures/world.json) through the services",
        "control",
        request=_schema("SeedRequest"),
        response=_schema("SeedResult"),
        envelope="raw",
        auth=False,
        endpoint=_handler("seed"),
    ),
    Operation(
        "GET",
        "/_emulator/responses",
        "List the response rules, with their hit counts",
        "control",
        response=_schema("ResponseRuleList"),
        envelope="raw",
        auth=False,
        endpoint=_handler("list_responses"),
    ),
    Operation(
        "POST",
        "/_emulator/responses",
        "Add a response rule: what the model (or, with `path`, any endpoint) answers to matching requests",
        "control",
        request=_schema("ResponseRuleSpec"),
        response=_schema("ResponseRule"),
        envelope="raw",
        auth=False,
        endpoint=_handler("add_response"),
    ),
    Operation(
        "DELETE",
        "/_emulator/responses",
        "Remove every response rule",
        "control",
        response=_schema("ResponsesCleared"),
        envelope="raw",
        auth=False,
        endpoint=_handler("clear_responses"),
    ),
    Operation(
        "DELETE",
        "/_emulator/responses/{rule_id}",
        "Remove one response rule",
        "control",
        response=_schema("ResponsesCleared"),
        envelope="raw",
        auth=False,
        params=(path_param("rule_id"),),
        endpoint=_handler("delete_response"),
    ),
    *_MODELS,
]
