"""HTTP for /compatible-mode/v1/files: the native files service behind OpenAI's shapes and errors."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from emulator.context import caller, context
from emulator.errors import ApiError, FileNotFound, InvalidParameter, NotFound
from emulator.files.service import FilesService
from emulator.files.store import FileRecord
from emulator.files.upload import parse_upload
from emulator.http import FastJSONResponse
from emulator.pagination import cursor_limit
from emulator.runtime import runtime
from emulator.services import services

PREFIXES = {"file-extract": "file-fe-", "batch": "file-batch-"}
OUTPUT_PURPOSE = "batch_output"
OUTPUT_PREFIX = "file-batch_output-"
LISTED = ("file-extract", "batch", OUTPUT_PURPOSE)
PURPOSE_LIMITS = {"file-extract": 150 * 1024 * 1024, "batch": 500 * 1024 * 1024}


def _service(request: Request) -> FilesService:
    return services(request).files


def openai_file(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.file_id,
        "object": "file",
        "bytes": record.size,
        "filename": record.name,
        "purpose": record.purpose,
        "status": "processed",
        "created_at": int(record.created_at),
    }  # no status_details: the recorded answer has none (the batch doc's example adds it)


class PurposeError(InvalidParameter):
    """The recorded refusal of a wrong ``purpose``: OpenAI's shape with ``code: null`` (reference §9.1)."""

    def openai_body(self, request_id: str) -> dict[str, Any]:
        error = {"message": self.message, "type": "invalid_request_error", "param": "purpose", "code": None}
        return {"error": error, "request_id": request_id}


def _purpose_error(message: str) -> InvalidParameter:
    return PurposeError(message, param="purpose")


async def upload_file(request: Request) -> Response:
    service = _service(request)
    rt = runtime(request)
    tenant = caller(request)
    budget = await service.budget(tenant)
    try:
        limit = min(rt.settings.max_file_bytes, PURPOSE_LIMITS["batch"])
        parsed = await parse_upload(request.stream(), request.headers.get("content-type"), rt.temp_dir, limit, budget)
        try:
            context(request).upload_form = parsed.summary()
            purpose = (parsed.last("purpose") or "").strip()
            if purpose not in PREFIXES:
                raise _purpose_error("'purpose' must be one of 'file-extract', 'batch'")
            staged = parsed.staged()
            if len(staged) != 1:
                raise InvalidParameter("Send exactly one file, in a multipart field named 'file'.", param="file")
            if staged[0].size > PURPOSE_LIMITS[purpose] and staged[0].over is None:
                raise InvalidParameter(f"File too large: a {purpose} file is at most {PURPOSE_LIMITS[purpose]} bytes.")
            outcome = await service.upload_files(
                tenant, staged, purpose=purpose, descriptions=[], id_prefix=PREFIXES[purpose]
            )
        finally:
            parsed.discard()
    finally:
        budget.close()
    if outcome.failed:
        first = outcome.failed[0]
        raise ApiError(first.message, code=first.code, status=400)
    record = await service.get_file(tenant, outcome.uploaded[0].file_id)
    return FastJSONResponse(openai_file(record))


async def list_files(request: Request) -> Response:
    query = request.query_params
    limit = cursor_limit(query)
    purpose = query.get("purpose")
    purposes = (purpose,) if purpose else LISTED
    records = await _service(request).list_files_after(caller(request), query.get("after"), limit + 1, purposes)
    if records is None:
        raise _not_found(query.get("after") or "")
    data = [openai_file(r) for r in records[:limit]]
    return FastJSONResponse({"object": "list", "data": data, "has_more": len(records) > limit})


def _not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", param="id")


async def _record(request: Request) -> FileRecord:
    file_id = request.path_params["file_id"]
    try:
        record = await _service(request).get_file(caller(request), file_id)
    except FileNotFound:
        raise _not_found(file_id) from None
    if record.purpose not in LISTED:
        raise _not_found(file_id)
    return record


async def retrieve_file(request: Request) -> Response:
    return FastJSONResponse(openai_file(await _record(request)))


async def delete_file(request: Request) -> Response:
    record = await _record(request)
    await _service(request).delete_file(caller(request), record.file_id)
    return FastJSONResponse({"id": record.file_id, "object": "file", "deleted": True})


async def file_content(request: Request) -> Response:
    record = await _record(request)
    if record.purpose != OUTPUT_PURPOSE:
        raise InvalidParameter(
            f"File {record.file_id} cannot be downloaded: only batch output and error files can.", param="id"
        )
    return FileResponse(_service(request).blob_path(record), media_type="application/octet-stream")
