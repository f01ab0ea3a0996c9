"""The route table of ``emulator.files``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, page_params, path_param

HANDLERS = "emulator.files.handlers"
SCHEMAS = "emulator.files.schemas"

_UPLOAD_FORM = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "contentMediaType": "application/octet-stream"},
            "description": "One or more files (.jsonl for SFT/DPO, .zip for image SFT).",
        },
        "descriptions": {"type": "array", "items": {"type": "string"}, "description": "Matched to files by order."},
        "purpose": {"type": "string", "enum": ["fine-tune", "fine_tune", "file-extract", "batch"]},
    },
}


operations = [
    Operation(
        "POST",
        "/api/v1/files",
        "Upload files",
        "files",
        response=f"{SCHEMAS}:UploadData",
        envelope="data",
        multipart=_UPLOAD_FORM,
        description="Over-limit or invalid files are listed in failed_uploads.",
        endpoint=lazy.handler(f"{HANDLERS}:upload_files"),
    ),
    Operation(
        "GET",
        "/api/v1/files",
        "List files",
        "files",
        response=f"{SCHEMAS}:FileListData",
        envelope="data",
        params=page_params(),
        endpoint=lazy.handler(f"{HANDLERS}:list_files"),
    ),
    Operation(
        "GET",
        "/api/v1/files/{file_id}",
        "Get a file",
        "files",
        response=f"{SCHEMAS}:FileObject",
        envelope="data",
        params=(path_param("file_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:get_file"),
    ),
    Operation(
        "DELETE",
        "/api/v1/files/{file_id}",
        "Delete a file",
        "files",
        envelope="none",
        params=(path_param("file_id"),),
        endpoint=lazy.handler(f"{HANDLERS}:delete_file"),
    ),
    Operation(
        "GET",
        "/api/v1/files/{file_id}/content",
        "Download a file's content",
        "files",
        envelope="raw",
        params=(path_param("file_id"),),
        media_type="application/octet-stream",
        description="The bytes as uploaded, with Content-Disposition naming the file.",
        endpoint=lazy.handler(f"{HANDLERS}:file_content"),
        name="file_content",
    ),
]
