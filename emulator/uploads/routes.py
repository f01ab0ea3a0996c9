"""HTTP for temporary uploads: ``GET /api/v1/uploads?action=getPolicy`` and the OSS form POST it points at."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller, context
from emulator.errors import InvalidParameter, NotFound
from emulator.files.upload import FileTooLarge, parse_upload
from emulator.http import envelope, request_id
from emulator.openapi import Operation, Param, path_param
from emulator.services import services
from emulator.uploads.schemas import UploadPolicyResponse
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


operations = [
    Operation(
        "GET",
        "/api/v1/uploads",
        "Upload policy for a temporary media file (action=getPolicy)",
        "uploads",
        endpoint=get_policy,
        response=UploadPolicyResponse,
        envelope="raw",
        params=(
            Param("action", required=True, description="getPolicy"),
            Param("model", description="The model the file is for."),
        ),
        description="Answers under `data`; `upload_host` is this server's `/_oss/dashscope-file-mgr`. POST the "
        "OSS form there (fields `OSSAccessKeyId`, `Signature`, `policy`, `key`, `file`, ...), then send "
        "`oss://<key>` with `X-DashScope-OssResourceResolve: enable`. Objects live 48 h of emulated time.",
    ),
    Operation(
        "POST",
        "/_oss/{bucket}",
        "OSS PostObject form upload (the upload_host of a policy)",
        "uploads",
        endpoint=post_object,
        envelope="raw",
        auth=False,
        oss=True,
        multipart={
            "type": "object",
            "properties": {"key": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
        },
        params=(path_param("bucket"),),
        description="multipart/form-data; no Authorization (the signed policy is the credential). 200 with an "
        "empty body when `success_action_status` is 200, else 204; errors are OSS XML `<Error>` bodies "
        "(409 FileAlreadyExists, 403 AccessDenied for an expired policy or a key outside `upload_dir`).",
    ),
]
