"""What every generation route reads off a request the same way: the service, SSE or not, the ``oss://`` lookup.

Kept apart from the routes modules so that none of them imports another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import ApiError, EmptyInput, EmptyModel
from emulator.generation.media import OssResolver
from emulator.http import read_json_object
from emulator.services import services

OSS_RESOLVE_HEADER = "x-dashscope-ossresourceresolve"


def wants_sse(request: Request) -> bool:
    """Only when asked: a non-stream SDK call that gets an SSE body crashes (reference §6.3)."""
    return request.headers.get(
        "x-dashscope-sse", ""
    ).strip().lower() == "enable" or "text/event-stream" in request.headers.get("accept", "")


async def read_native_request(request: Request) -> dict[str, Any]:
    """A native generation body (text or multimodal) with a model and a non-empty ``input`` object, or the
    service's refusal: checked before its schema, as the service does."""
    body = await read_json_object(request)
    if body.get("model") in (None, ""):
        raise EmptyModel()
    if not isinstance(body.get("input"), dict) or not body["input"]:
        raise EmptyInput()
    return body


def oss_resolver(request: Request) -> OssResolver | None:
    """The caller's ``oss://`` lookup, only when the request opted in with ``X-DashScope-OssResourceResolve``."""
    if request.headers.get(OSS_RESOLVE_HEADER, "").strip().lower() != "enable":
        return None
    return services(request).uploads.resolver(caller(request))


def sse_errors(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A native endpoint whose 400s, on a streaming request, come as the service sends them: HTTP 200
    ``text/event-stream`` with one ``event:error`` frame (recorded: cnblogs ``parameter-error-sse``)."""
    from emulator.generation.replies import native_error_frame
    from emulator.http import request_id
    from emulator.sse import stream_response

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as error:
            if error.status != 400 or not wants_sse(request):
                raise
            frame = native_error_frame(error, request_id(request), 1)

            async def one() -> AsyncIterator[bytes]:
                yield frame

            return stream_response(one())

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    wrapped.__doc__ = endpoint.__doc__
    return wrapped
