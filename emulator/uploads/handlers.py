"""HTTP for temporary uploads: ``GET /api/v1/uploads?action=getPolicy`` and the OSS form POST it points at."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller, context
from emulator.errors import InvalidParameter, NotFound
from emulator.files.upload import FileTooLarge, parse_upload
from emulator.http import envelope, request_id
from emulator.services import services
from emulator.uploads.service import BUCKET, UPLOAD_PATH, OssError


def upload_host(request: Request) -> str:
    """Absolute, and reachable the way the caller reached us (reference §8 q5): forwarded host/proto first."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip() or "http"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}{UPLOAD_PATH}"


async def get_policy(request: Request) -> JSONResponse:
    action = request.query_params.get("action")
    if action != "getPolicy":
        raise InvalidParameter(f"Unsupported action {action!r}: only action=getPolicy is served.", param="action")
    policy = await services(request).uploads.policy(
        caller(request), request.query_params.get("model"), upload_host(request), request_id(request)
    )
    return envelope(request, "data", policy)


async def post_object(request: Request) -> Response:
    if request.path_params["bucket"] != BUCKET:
        raise NotFound("The specified bucket does not exist.", code="NoSuchBucket")
    rt = request.app.state.rt
    uploads = services(request).uploads
    try:  # the gate checks signature, policy, key and size before the file's first byte is written
        form = await parse_upload(
            request.stream(),
            request.headers.get("content-type"),
            rt.temp_dir,
            rt.settings.max_file_bytes,
            gate=uploads.gate,
        )
    except FileTooLarge:
        raise OssError("Your proposed upload exceeds the maximum allowed size.", code="EntityTooLarge") from None
    context(request).upload_form = form.summary()
    try:
        await uploads.put(form)
    finally:
        form.discard()
    status = (form.fields.get("success_action_status") or ["204"])[0]
    return Response(status_code=200 if status == "200" else 204)
