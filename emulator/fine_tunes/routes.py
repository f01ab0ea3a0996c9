"""The route table of ``emulator.fine_tunes``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, page_params, path_param

HANDLERS = "emulator.fine_tunes.handlers"
CHECKPOINTS = "emulator.fine_tunes.checkpoint_handlers"
SCHEMAS = "emulator.fine_tunes.schemas"

_JOB = (path_param("job_id"),)

CHECKPOINT_SCHEMAS = "emulator.fine_tunes.checkpoint_schemas"


_JOBS = [
    Operation(
        "POST",
        "/api/v1/fine-tunes",
        "Create a fine-tune job",
        "fine-tunes",
        request=f"{SCHEMAS}:CreateJobRequest",
        response=f"{SCHEMAS}:JobObject",
        endpoint=lazy.handler(f"{HANDLERS}:create_job"),
    ),
    Operation(
        "GET",
        "/api/v1/fine-tunes",
        "List fine-tune jobs (newest first)",
        "fine-tunes",
        response=f"{SCHEMAS}:JobList",
        params=(*page_params(), Param("model", description="Only jobs of this model.")),
        endpoint=lazy.handler(f"{HANDLERS}:list_jobs"),
    ),
    Operation(
        "GET",
        "/api/v1/fine-tunes/{job_id}",
        "Get a fine-tune job",
        "fine-tunes",
        response=f"{SCHEMAS}:JobObject",
        params=_JOB,
        endpoint=lazy.handler(f"{HANDLERS}:get_job"),
    ),
    Operation(
        "DELETE",
        "/api/v1/fine-tunes/{job_id}",
        "Delete a finished job",
        "fine-tunes",
        response=f"{SCHEMAS}:StatusOutput",
        params=_JOB,
        endpoint=lazy.handler(f"{HANDLERS}:delete_job"),
    ),
    Operation(
        "POST",
        "/api/v1/fine-tunes/{job_id}/cancel",
        "Cancel a job",
        "fine-tunes",
        response=f"{SCHEMAS}:StatusOutput",
        params=_JOB,
        endpoint=lazy.handler(f"{HANDLERS}:cancel_job"),
    ),
    Operation(
        "GET",
        "/api/v1/fine-tunes/{job_id}/logs",
        "Read a job's log lines",
        "fine-tunes",
        response=f"{SCHEMAS}:LogsOutput",
        params=(
            *_JOB,
            Param(
                "offset",
                schema={"type": "integer", "minimum": 0, "default": 0},
                description="0 and 1 both mean the first line.",
            ),
            Param(
                "line",
                schema={"type": "integer", "minimum": 1, "default": 100},
                description="Lines to return, at most 1000.",
            ),
        ),
        endpoint=lazy.handler(f"{HANDLERS}:job_logs"),
    ),
    Operation(
        "GET",
        "/api/v1/fine-tunes/{job_id}/stream",
        "Follow a job's log as Server-Sent Events",
        "fine-tunes",
        sse=True,
        params=_JOB,
        endpoint=lazy.handler(f"{HANDLERS}:stream_job"),
    ),
]


_CHECKPOINTS = [
    Operation(
        "GET",
        "/api/v1/fine-tunes/{job_id}/checkpoints",
        "List a job's checkpoints (one per validation boundary and the last step; the last 20 kept)",
        "fine-tunes",
        response=f"{CHECKPOINT_SCHEMAS}:CheckpointList",
        params=(path_param("job_id"),),
        endpoint=lazy.handler(f"{CHECKPOINTS}:list_checkpoints"),
    ),
    Operation(
        "GET",
        "/api/v1/fine-tunes/{job_id}/export/{checkpoint}",
        "Export a checkpoint of a succeeded job: PENDING, PROCESSING, then SUCCEEDED with a deployable model_name",
        "fine-tunes",
        response=f"{CHECKPOINT_SCHEMAS}:ExportAccepted",
        params=(
            path_param("job_id"),
            path_param("checkpoint"),
            Param("model_name", required=True, description="Display name of the exported model (unique)."),
        ),
        endpoint=lazy.handler(f"{CHECKPOINTS}:export_checkpoint"),
    ),
]


operations = [*_JOBS, *_CHECKPOINTS]
