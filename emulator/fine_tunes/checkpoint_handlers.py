"""HTTP for /api/v1/fine-tunes/{job_id}/checkpoints and /export/{checkpoint}: parse, call the service, answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from emulator.context import caller
from emulator.http import envelope
from emulator.services import services

"""Named, not imported: they are RootModels, whose validators pydantic builds at class creation (the first such
build also scans every installed package for pydantic plugins), so only the OpenAPI document imports them."""


async def list_checkpoints(request: Request) -> JSONResponse:
    checkpoints = await services(request).checkpoints.list_checkpoints(caller(request), request.path_params["job_id"])
    return envelope(request, "output", [cp.wire() for cp in checkpoints])


async def export_checkpoint(request: Request) -> JSONResponse:
    """A GET that starts an export (the docs' method); ``output`` is a boolean."""
    accepted = await services(request).checkpoints.export(
        caller(request),
        request.path_params["job_id"],
        request.path_params["checkpoint"],
        request.query_params.get("model_name"),
    )
    return envelope(request, "output", accepted)
