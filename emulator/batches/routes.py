"""The route table of ``emulator.batches``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, path_param

HANDLERS = "emulator.batches.handlers"
SCHEMAS = "emulator.batches.schemas"


operations = [
    Operation(
        "POST",
        "/compatible-mode/v1/batches",
        "Create a batch (OpenAI-compatible)",
        "openai-compatible",
        request=f"{SCHEMAS}:BatchCreateRequest",
        response=f"{SCHEMAS}:Batch",
        envelope="raw",
        openai=True,
        description="The input (a `purpose: batch` file) is checked line by line after the answer: ≤50,000 "
        "requests, ≤500 MB, ≤6 MB a line, unique `custom_id`, one model, each `url` the batch's `endpoint`. "
        "`batch-test-model` with `/v1/chat/ds-test`: ≤100 lines, ≤1 MB, answers `This is a test result.`.",
        endpoint=lazy.handler(f"{HANDLERS}:create_batch"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/batches",
        "List batches (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:BatchList",
        envelope="raw",
        openai=True,
        params=(
            Param("after"),
            Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            Param("ds_name", description="Substring of `metadata.ds_name`."),
            Param("input_file_ids", description="Comma-separated, at most 20."),
            Param("status", description="Comma-separated statuses."),
            Param("create_after", description="`yyyyMMddHHmmss`, Beijing time."),
            Param("create_before", description="`yyyyMMddHHmmss`, Beijing time."),
        ),
        endpoint=lazy.handler(f"{HANDLERS}:list_batches"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/batches/{batch_id}",
        "Retrieve a batch (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:Batch",
        envelope="raw",
        openai=True,
        params=(path_param("batch_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:retrieve_batch"),
    ),
    Operation(
        "POST",
        "/compatible-mode/v1/batches/{batch_id}/cancel",
        "Cancel a batch (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:Batch",
        envelope="raw",
        openai=True,
        params=(path_param("batch_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:cancel_batch"),
    ),
]
