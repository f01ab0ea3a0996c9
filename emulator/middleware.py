"""The outermost layer: a request id on every answer, and no traceback ever reaching a client.

Pure ASGI (no BaseHTTPMiddleware), so it costs a function call, not a task, per request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import ApiError, InternalError
from emulator.http import error_response

log = logging.getLogger("emulator")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, request_id: Callable[[], str], stats: dict[str, int]) -> None:
        self.app = app
        self.request_id = request_id
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ApiError as exc:  # raised by a middleware below the router (auth, faults)
            if not started:
                await error_response(scope, exc, request_id)(scope, receive, send_with_id)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer, nothing went wrong here
            log.info("client disconnected during %s %s (request_id %s)", scope["method"], scope["path"], request_id)
        except Exception:
            self.stats["internal_errors"] = self.stats.get("internal_errors", 0) + 1
            log.exception("unexpected error on %s %s (request_id %s)", scope["method"], scope["path"], request_id)
            if not started:
                await error_response(scope, InternalError(), request_id)(scope, receive, send_with_id)
