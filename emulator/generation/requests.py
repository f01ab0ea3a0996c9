"""What every generation route reads off a request the same way: the service, SSE or not, the ``oss://`` lookup.

Kept apart from the routes modules so that none of them imports another.
"""

from __future__ import annotations

from starlette.requests import Request

from emulator.context import caller
from emulator.generation.media import OssResolver
from emulator.services import services

UNFINISHED = "null"
"""``finish_reason`` of every chunk but the last: the *string* "null" (reference §6.2)."""

OSS_RESOLVE_HEADER = "x-dashscope-ossresourceresolve"


def wants_sse(request: Request) -> bool:
    """Only when asked: a non-stream SDK call that gets an SSE body crashes (reference §6.3)."""
    return request.headers.get(
        "x-dashscope-sse", ""
    ).strip().lower() == "enable" or "text/event-stream" in request.headers.get("accept", "")


def oss_resolver(request: Request) -> OssResolver | None:
    """The caller's ``oss://`` lookup, only when the request opted in with ``X-DashScope-OssResourceResolve``."""
    if request.headers.get(OSS_RESOLVE_HEADER, "").strip().lower() != "enable":
        return None
    return services(request).uploads.resolver(caller(request))
