"""What every generation route reads off a request the same way: the service, SSE or not, the ``oss://`` lookup.

Kept apart from the routes modules so that none of them imports another.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from emulator.context import caller, context
from emulator.generation.media import OssResolver
from emulator.services import services

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


def rule_noter(request: Request) -> Callable[[str], None]:
    """Notes on the request's context the response rule that answered, for the journal."""

    def note(rule_id: str) -> None:
        context(request).response_rule = rule_id

    return note
