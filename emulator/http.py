"""Request parsing and response building shared by every route: the wire format lives here."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from emulator.errors import ApiError, MalformedBody, TooLarge, render_error, render_openai_error

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BODY = 16 * 1024 * 1024
OPENAI_PREFIX = "/compatible-mode/"
OSS_PREFIX = "/_oss/"


def request_id(request: Request) -> str:
    return str(request.state.request_id)


def error_response(scope: Scope, error: ApiError, rid: str) -> Response:
    if scope.get("path", "").startswith(OSS_PREFIX):
        return Response(render_oss_error(error, rid), status_code=error.status, media_type="application/xml")
    if scope.get("path", "").startswith(OPENAI_PREFIX):
        body = render_openai_error(error, rid)
    else:
        body = render_error(error, rid)
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)


def render_oss_error(error: ApiError, rid: str) -> bytes:
    """The emulated OSS upload host answers errors as OSS does: an XML ``<Error>`` document."""
    fields = {"Code": error.code, "Message": error.message, "RequestId": rid, "HostId": "dashscope-file-mgr"}
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>\n'.encode()


def envelope(request: Request, key: str | None, payload: Any, **extra: Any) -> JSONResponse:
    """``{"request_id": ..., key: payload}``: files answer under ``data``, everything else under ``output``."""
    body: dict[str, Any] = {"request_id": request_id(request)}
    if key is not None:
        body[key] = payload
    body.update(extra)
    return JSONResponse(body)


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await read_body(request)
    if not raw.strip():
        if allow_empty:
            return {}
        raise MalformedBody("Request body is empty; a JSON object is required.")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"Request body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise MalformedBody("Request body must be a JSON object.")
    return data


def validation_message(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    location = ".".join(str(p) for p in first["loc"]) or "body"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{location}: {first['msg']}{suffix}"


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedBody(validation_message(exc)) from None


async def read_model(request: Request, model: type[M], *, allow_empty: bool = False) -> M:
    return parse_model(model, await read_json_object(request, allow_empty=allow_empty))
