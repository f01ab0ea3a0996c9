"""HTTP for /api/v1/files: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from emulator.clock import fmt_job_time
from emulator.context import caller, context
from emulator.errors import ApiError
from emulator.files.schemas import UploadData
from emulator.files.store import FileRecord
from emulator.files.upload import parse_upload
from emulator.http import envelope, envelope_encoded, render_json
from emulator.pagination import parse_page
from emulator.services import services
from emulator.tenants import Tenant

_ID_MARK = "0file0id0"


def content_url_template(request: Request) -> str:
    """What ``request.url_for("file_content", file_id=...)`` answers, with ``_ID_MARK`` for the id, without walking
    the router for every file: the route's path is looked up once per app and joined to the request's base URL."""
    state = request.app.state
    cache: dict[tuple[object, ...], str] | None = getattr(state, "file_content_urls", None)
    if cache is None:
        cache = state.file_content_urls = {}
    scope = request.scope
    key = (scope.get("scheme"), scope.get("server"), scope.get("root_path"), request.headers.get("host"))
    template = cache.get(key)
    if template is None:
        if len(cache) > 64:
            cache.clear()
        path = str(scope["router"].url_path_for("file_content", file_id=_ID_MARK))
        template = cache[key] = str(request.base_url).rstrip("/") + path  # base_url has no query or fragment
    return template


def file_url(template: str, file_id: str) -> str:
    """A file's content URL from ``content_url_template``."""
    return template.replace(_ID_MARK, file_id)


def file_dict(record: FileRecord, tenant: Tenant, url: str) -> dict[str, Any]:
    """The wire form of a file (``FileObject``, field for field and in its order), built straight from the stored,
    already validated facts: a page of files skips constructing and dumping ten models."""
    return {
        "id": record.id,
        "file_id": record.file_id,
        "name": record.name,
        "description": record.description,
        "purpose": record.purpose,
        "size": record.size,
        "md5": record.md5,
        "region": "cn-beijing",
        "url": url,
        "user_id": tenant.account_id,
        "api_key_id": tenant.api_key_id,
        "gmt_create": fmt_job_time(record.created_at),
    }


async def upload_files(request: Request) -> JSONResponse:
    """Decodes the multipart body (file parts streamed to temp files within the tenant's budget) and hands the
    service plain values: the received files, the purpose, the descriptions."""
    service = services(request).files
    rt = request.app.state.rt
    tenant = caller(request)
    budget = await service.budget(tenant)
    try:
        parsed = await parse_upload(
            request.stream(), request.headers.get("content-type"), rt.temp_dir, rt.settings.max_file_bytes, budget
        )
        try:
            context(request).upload_form = parsed.summary()
            descriptions = parsed.fields.get("descriptions") or parsed.fields.get("description") or []
            outcome = await service.upload_files(
                tenant, parsed.staged(), purpose=parsed.last("purpose"), descriptions=descriptions
            )
        finally:
            parsed.discard()
    finally:
        budget.close()
    if rt.settings.strict and not outcome.uploaded and outcome.failed:
        first = outcome.failed[0]
        raise ApiError(first.message, code=first.code, status=400)
    data = UploadData(uploaded_files=outcome.uploaded, failed_uploads=outcome.failed)
    return envelope(request, "data", data.model_dump())


async def list_files(request: Request) -> JSONResponse:
    page = parse_page(request.query_params)
    tenant = caller(request)
    template = content_url_template(request)

    def render(total: int, records: list[FileRecord]) -> bytes:
        files = [file_dict(r, tenant, file_url(template, r.file_id)) for r in records]
        return render_json({"total": total, "page_no": page.page_no, "page_size": page.page_size, "files": files})

    data = await services(request).files.page_view(tenant, page.offset, page.page_size, template, render)
    return envelope_encoded(request, "data", data)  # FileListData, rendered once while nothing changes


async def get_file(request: Request) -> JSONResponse:
    tenant = caller(request)
    record = await services(request).files.get_file(tenant, request.path_params["file_id"])
    return envelope(request, "data", file_dict(record, tenant, file_url(content_url_template(request), record.file_id)))


async def file_content(request: Request) -> Response:
    service = services(request).files
    record = await service.get_file(caller(request), request.path_params["file_id"])
    return FileResponse(service.blob_path(record), filename=record.name, media_type="application/octet-stream")


async def delete_file(request: Request) -> JSONResponse:
    await services(request).files.delete_file(caller(request), request.path_params["file_id"])
    return envelope(request, None, None)
