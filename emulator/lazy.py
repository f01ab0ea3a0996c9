"""Endpoints and models named by ``"module:attribute"``, imported when first used: route tables are built at
start, but the modules behind rarely used routes (the dashboard, the control plane's handlers and schemas) are
imported on their first request, off the start-up path (``tests/unit/test_import_graph.py`` holds them off)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
