"""The route table of ``emulator.openai_files``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, path_param

HANDLERS = "emulator.openai_files.handlers"
SCHEMAS = "emulator.openai_files.schemas"

_FORM = {
    "type": "object",
    "required": ["file", "purpose"],
    "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        "purpose": {"type": "string", "enum": ["file-extract", "batch"]},
    },
}


operations = [
    Operation(
        "POST",
        "/compatible-mode/v1/files",
        "Upload a file (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:OpenAIFile",
        envelope="raw",
        openai=True,
        multipart=_FORM,
        description="file-extract at most 150 MB, batch at most 500 MB (and --max-file-bytes); the tenant's quotas "
        "are the native Files API's.",
        endpoint=lazy.handler(f"{HANDLERS}:upload_file"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/files",
        "List files (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:OpenAIFileList",
        envelope="raw",
        openai=True,
        params=(
            Param("after", description="The last id of the previous page."),
            Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            Param("purpose"),
        ),
        endpoint=lazy.handler(f"{HANDLERS}:list_files"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/files/{file_id}",
        "Retrieve a file (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:OpenAIFile",
        envelope="raw",
        openai=True,
        params=(path_param("file_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:retrieve_file"),
    ),
    Operation(
        "DELETE",
        "/compatible-mode/v1/files/{file_id}",
        "Delete a file (OpenAI-compatible)",
        "openai-compatible",
        response=f"{SCHEMAS}:OpenAIFileDeleted",
        envelope="raw",
        openai=True,
        params=(path_param("file_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:delete_file"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/files/{file_id}/content",
        "Download a batch output or error file (OpenAI-compatible)",
        "openai-compatible",
        envelope="raw",
        openai=True,
        params=(path_param("file_id"),),
        media_type="application/octet-stream",
        endpoint=lazy.handler(f"{HANDLERS}:file_content"),
    ),
]
