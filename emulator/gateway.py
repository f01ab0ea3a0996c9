"""The one layer between the ASGI server and the routes: every request crosses it once.

In order, for an HTTP request:

1. the request's context (``emulator.context``) with its id (the ``x-request-id`` header of every answer too);
2. the journal's record of a public request (``/api/v1``, ``/compatible-mode/v1``), which sees whatever answers
   it: a refusal below, a fault, a handler, the 500 net;
3. the Host allow-list and the cross-site rule (``emulator.guard``), on every request;
4. ``--admin-token`` on ``/_emulator``;
5. the caller's tenant on a public request (``TenantRegistry.from_headers``);
6. fault rules on a public request, when any is set; then response rules with a ``path``, when any is set;
7. the route: found through an index of literal path prefixes (``RouteIndex``), run without Starlette's per-route
   exception wrapper;
8. every exception turned into the service's error envelope: ``ApiError`` as it says, Starlette's 404/405 as
   ``NotFound`` (naming the path the client probably meant: ``signposts``) and ``MethodNotAllowed``, a full disk
   as 507, anything else as a 500 counted in ``internal_errors`` (the client never sees a traceback); a client gone
   mid-body is logged, not counted.

It replaces a stack of seven ASGI layers (Starlette's two, six of the emulator's): each layer wrapped ``send``,
and the router tried every route's regex in turn, which together cost more CPU per request than a bare
Starlette route does in all (``bench/NOTES.md``, request overhead).
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from starlette._utils import get_route_path, is_async_callable
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.context import CONTEXT, RequestContext
from emulator.errors import ApiError, InsufficientStorage, InternalError, MethodNotAllowed, NotFound, is_disk_full
from emulator.guard import AdminGate, HostPolicy, check_request
from emulator.http import error_response
from emulator.runtime import Runtime
from emulator.signposts import not_found_message
from emulator.tenants import PROTECTED_PREFIXES, auth_headers

log = logging.getLogger("emulator")

Endpoint = Callable[[Request], Awaitable[Response]]
INDEX_DEPTH = 3
"""Routes are indexed by this many leading path segments (``/api/v1/fine-tunes``)."""


def lean_endpoint(func: Endpoint) -> ASGIApp:
    """Starlette's ``request_response`` without its exception wrapper: the gateway handles every exception."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await func(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class RouteIndex:
    """The routes that can match a path, found by its leading segments instead of trying every route's regex.

    A route whose literal prefix (its path up to the first ``{``) holds whole segments can only match paths that
    start with them, so it is filed under its first one to ``INDEX_DEPTH`` of them; a route without one (a mount,
    a parameter in the first segment) is tried for every path.  A path's candidates are the routes filed under its
    first one, two and three segments plus those, in the router's order, so the first full match among them is
    the router's own.  When none matches fully, the router's own walk answers (405, a trailing-slash redirect,
    404): the index is only ever a shortcut to the same route.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.size = len(routes)
        always: list[int] = []
        filed: dict[tuple[str, ...], list[int]] = {}
        for position, route in enumerate(routes):
            key = self._key_of(route)
            (always if key is None else filed.setdefault(key, [])).append(position)
        self.fallback = [_entry(routes[i]) for i in always]
        self.buckets: dict[tuple[str, ...], list[_Entry]] = {}
        for key in filed:
            positions = set(always)
            for depth in range(1, len(key) + 1):
                positions.update(filed.get(key[:depth], ()))
            self.buckets[key] = [_entry(routes[i]) for i in sorted(positions)]

    @staticmethod
    def _key_of(route: BaseRoute) -> tuple[str, ...] | None:
        if not isinstance(route, Route):  # a Mount or a Host: tried for every path
            return None
        literal = route.path.split("{", 1)[0]
        whole = literal.split("/")[1:] if "{" not in route.path else literal.split("/")[1:-1]
        if not whole or not all(whole[:INDEX_DEPTH]):
            return None
        return tuple(whole[:INDEX_DEPTH])

    def candidates(self, path: str) -> list[_Entry]:
        segments = tuple(path.split("/", INDEX_DEPTH + 1)[1 : INDEX_DEPTH + 1])
        buckets = self.buckets
        for depth in range(len(segments), 0, -1):  # the deepest key filed holds the shallower ones' routes too
            found = buckets.get(segments if depth == len(segments) else segments[:depth])
            if found is not None:
                return found
        return self.fallback

    def match(self, scope: Scope) -> tuple[BaseRoute | None, Scope]:
        """The first candidate that matches fully: a route's own regex and methods are tried first (what its
        ``matches`` would find), and only the winner builds its path parameters."""
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]  # what Route.matches reads
        method = scope["method"]
        for route, plain in self.candidates(path):
            # a plain route's regex and methods first (what its ``matches`` would find); a lazy route compiles here
            if plain and (route.path_regex.match(path) is None or (route.methods and method not in route.methods)):  # type: ignore[attr-defined]
                continue
            found, child = route.matches(scope)
            if found is Match.FULL:
                return route, child
        return None, {}


_Entry = tuple[BaseRoute, bool]


def _entry(route: BaseRoute) -> _Entry:
    """A route, and whether it is a plain ``Route`` (its regex and methods tried before its ``matches``)."""
    return route, isinstance(route, Route)


def make_lean(routes: Sequence[BaseRoute]) -> None:
    """Every route whose endpoint is an async function runs through ``lean_endpoint``."""
    for route in routes:
        if isinstance(route, Route) and inspect.isfunction(route.endpoint) and is_async_callable(route.endpoint):
            route.app = lean_endpoint(route.endpoint)


class Gateway:
    """See the module's docstring; ``router`` is the app's Starlette router (its routes made lean)."""

    def __init__(self, router: Router, rt: Runtime) -> None:
        settings = rt.settings
        self.router = router
        self.index = self._reindex()
        self.request_id = rt.ids.request_id
        self.stats = rt.stats
        self.journal = rt.journal if settings.journal_size else None
        self.hosts = HostPolicy(settings)
        self.admin = AdminGate(settings.admin_token) if settings.admin_token else None
        self.tenants = rt.tenants
        self.now = rt.clock.now
        self.faults = rt.faults
        self.responses = rt.responses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        rid = self.request_id()
        ctx = scope[CONTEXT] = RequestContext(rid)
        header = (b"x-request-id", rid.encode())
        public = scope["path"].startswith(PROTECTED_PREFIXES)
        journal = self.journal if public else None
        server_receive = receive
        if journal is not None:
            record, receive = journal.begin_http(scope, receive)
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header]
                if journal is not None:
                    record.answer_headers = message["headers"]
                    await journal.answered(record, message["status"], server_receive)
            elif journal is not None:
                record.keep_answer(message.get("body", b""))
            await send(message)

        try:
            await self._serve(scope, receive, answer, public, ctx)
        except Exception as exc:
            response = self._failure(scope, exc, rid, started)
            if response is not None:
                await response(scope, receive, answer)
        finally:
            if journal is not None:
                journal.finish(record, None)

    def _reindex(self) -> RouteIndex:
        make_lean(self.router.routes)
        return RouteIndex(self.router.routes)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, public: bool, ctx: RequestContext) -> None:
        check_request(scope, self.hosts)
        if self.admin is not None and scope["path"].startswith("/_emulator"):
            refusal = self.admin.check(scope, ctx)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if public:
            authorization, workspace = auth_headers(scope["headers"])
            ctx.tenant = await self.tenants.from_headers(authorization, workspace, self.now)
            if self.faults.rules:
                struck = await self.faults.strike(scope, receive)
                if struck is None:
                    return
                receive = struck
            if self.responses.endpoints:
                scripted, receive = await self.responses.strike(scope, receive)
                if scripted is not None:
                    await scripted(scope, receive, send)
                    return
        scope["router"] = self.router
        if len(self.router.routes) != self.index.size:  # a route added after start (a test's own endpoint)
            self.index = self._reindex()
        route, child = self.index.match(scope)
        if route is None:
            await self.router.app(scope, receive, send)  # 405, a trailing-slash redirect, 404
            return
        scope["route"] = route
        scope.update(child)
        if isinstance(route, Route):  # its methods were checked by the index: what Route.handle would do next
            await route.app(scope, receive, send)
        else:
            await route.handle(scope, receive, send)

    def _failure(self, scope: Scope, exc: Exception, rid: str, started: bool) -> Response | None:
        """The answer to an exception, or None when nothing can be answered (the response already started, or
        the client went away)."""
        error = _client_error(scope, exc)
        if error is not None and not started:
            return error_response(scope, error, rid)
        if isinstance(exc, ClientDisconnect):  # the client went away mid-body: nobody to answer, nothing went wrong
            log.info("client disconnected during %s %s (request_id %s)", scope["method"], scope["path"], rid)
            return None
        # a bug, or an error raised after the answer started (which cannot be told to the client, so a bug too)
        self.stats["internal_errors"] = self.stats.get("internal_errors", 0) + 1
        log.error("unexpected error on %s %s (request_id %s)", *_where(scope), rid, exc_info=exc)
        return None if started else error_response(scope, InternalError(), rid)


def _where(scope: Scope) -> tuple[str, str]:
    return scope["method"], scope["path"]


def _client_error(scope: Scope, exc: Exception) -> ApiError | None:
    """What the client is told for an exception that is not the server's fault; None for a bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            return MethodNotAllowed(f"Method {scope['method']} is not allowed on {scope['path']}.")
        if exc.status_code == 404:  # a path nothing serves: name the one the client probably meant
            return NotFound(not_found_message(scope, scope["router"].routes if "router" in scope else ()))
        return ApiError(str(exc.detail), code="InvalidParameter", status=exc.status_code)
    if isinstance(exc, OSError | sqlite3.OperationalError) and is_disk_full(exc):
        log.warning("no space left on the device (%s %s): %s", scope["method"], scope["path"], exc)
        return InsufficientStorage()
    return None
