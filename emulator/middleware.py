"""The outermost layer: a request id on every answer, and no traceback ever reaching a client.

Pure ASGI (no BaseHTTPMiddleware), so it costs a function call, not a task, per request.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import AdminTokenRequired, ApiError, InternalError
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


class AdminTokenMiddleware:
    """``--admin-token``: /_emulator/* needs ``Authorization: Bearer <token>`` or ``X-Emulator-Token: <token>``.

    The health check and the dashboard's landing page (and its static assets) stay open, so a container
    healthcheck and a browser's first look need no token.
    """

    OPEN_PATHS = frozenset({"/_emulator/health", "/_emulator", "/_emulator/"})
    OPEN_PREFIXES = ("/_emulator/static/",)

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_emulator") and not self._open(scope):
            headers = dict(scope["headers"])
            given = headers.get(b"x-emulator-token") or _bearer(headers.get(b"authorization"))
            if not given or not hmac.compare_digest(given.strip(), self.token):
                raise AdminTokenRequired()
        await self.app(scope, receive, send)

    def _open(self, scope: Scope) -> bool:
        path = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            return False
        return path in self.OPEN_PATHS or path.startswith(self.OPEN_PREFIXES)


def _bearer(value: bytes | None) -> bytes | None:
    if not value:
        return None
    scheme, _, token = value.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else None
