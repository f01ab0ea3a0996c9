"""Endpoints and models named by ``"module:attribute"``, imported when first used: route tables are built at
start, but the modules behind the routes (every resource's handlers, schemas and service, the dashboard, the
control plane) are imported on their first request, off the start-up path (``tests/unit/test_import_graph.py``
holds them off).  And ``LazyRoute``: a route whose path regex is compiled on its first match."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from functools import cached_property
from importlib import import_module
from re import Pattern
from typing import Any

from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path, request_response

Endpoint = Callable[[Request], Awaitable[Response]]
RESOLVE = "resolve_handler"


def attribute(target: str) -> Any:
    """``"package.module:name"``: the module is imported (once, by Python's import system) on the first call."""
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def endpoint(name: str, resolve: Callable[[], Endpoint]) -> Endpoint:
    """An endpoint named ``name`` (the route's name) that finds its handler with ``resolve`` on its first request."""
    found: list[Endpoint] = []

    async def lazy_endpoint(request: Request) -> Response:
        if not found:
            found.append(resolve())
        return await found[0](request)

    lazy_endpoint.__name__ = lazy_endpoint.__qualname__ = name
    setattr(lazy_endpoint, RESOLVE, resolve)  # the tests resolve every route's handler without a request
    return lazy_endpoint


def handler(target: str) -> Endpoint:
    """The endpoint ``"module:function"``, imported on its first request."""
    return endpoint(target.partition(":")[2], lambda: attribute(target))


class LazyRoute(Route):
    """Starlette's ``Route`` for an endpoint function, with its path compiled on first use, not at start.

    Starlette compiles each route's path to a regex when the route is made: ~110 regexes, most of building the
    route table (the ``re`` parser is Python).  This sets what ``Route.__init__`` sets for a function endpoint,
    and compiles on the first read of ``path_regex``, ``path_format`` or ``param_convertors`` (the first request
    the gateway's index offers it, or a ``url_path_for``); from then on they are plain attributes.
    ``tests/unit/test_private_apis.py`` checks every route of the app against a ``Route`` built the ordinary way,
    so a Starlette release that changes what a route holds fails there."""

    def __init__(self, path: str, endpoint: Endpoint, *, methods: Collection[str], name: str | None = None) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.name = endpoint.__name__ if name is None else name
        self.include_in_schema = True
        self.app = request_response(endpoint)
        self.methods = {method.upper() for method in methods}
        if "GET" in self.methods:
            self.methods.add("HEAD")

    @cached_property
    def _compiled(self) -> tuple[Pattern[str], str, dict[str, Convertor[Any]]]:
        return compile_path(self.path)

    @cached_property
    def path_regex(self) -> Pattern[str]:  # type: ignore[override]
        return self._compiled[0]

    @cached_property
    def path_format(self) -> str:  # type: ignore[override]
        return self._compiled[1]

    @cached_property
    def param_convertors(self) -> dict[str, Convertor[Any]]:  # type: ignore[override]
        convertors: dict[str, Convertor[Any]] = self._compiled[2]
        return convertors
