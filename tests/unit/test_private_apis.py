"""The private parts of aiosqlite and uvicorn the emulator relies on, each used in one place only
(``emulator.db.on_thread``, ``emulator.protocol``): if a release renames or drops one, these fail and say which,
instead of the server misbehaving at run time."""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import pytest
from starlette.routing import Match, Route
from uvicorn.config import Config
from uvicorn.protocols.http import httptools_impl

from emulator.app import create_app
from emulator.db import Database, on_thread
from emulator.lazy import LazyRoute
from emulator.protocol import BoundedHttpToolsProtocol
from emulator.settings import Settings

pytestmark = pytest.mark.anyio


async def test_aiosqlite_runs_a_callable_on_its_thread_with_the_raw_connection(tmp_path: Path) -> None:
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute), "aiosqlite.Connection._execute changed"
    async with aiosqlite.connect(tmp_path / "a.db") as conn:
        assert isinstance(conn._conn, sqlite3.Connection), "aiosqlite.Connection._conn is no longer the connection"
        assert await on_thread(conn, lambda raw: raw.execute("SELECT 41 + 1").fetchone()[0]) == 42


async def test_the_database_runs_several_statements_in_one_trip(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "e.db"))
    await db.open()
    try:
        async with db.transaction() as tx:
            got = await tx.run(lambda raw: [raw.execute("SELECT ?", (n,)).fetchone()[0] for n in range(3)])
        assert got == [0, 1, 2]
    finally:
        await db.close()


def _assigned_in(code: object) -> set[str]:
    """The attributes ``code`` (a class or a function) assigns on ``self``."""
    return set(re.findall(r"^\s*self\.(\w+)\s*(?::[^=]*)?=", inspect.getsource(code), re.M))  # type: ignore[arg-type]


def test_uvicorn_request_cycle_still_holds_its_transport_and_disconnected_flag() -> None:
    """``protocol.close_connection`` (a fault's ``drop_connection``) reaches both through the app's ``send``."""
    fields = _assigned_in(httptools_impl.RequestResponseCycle.__init__)
    assert {"transport", "disconnected", "response_complete"} <= fields, (
        f"uvicorn's RequestResponseCycle changed: {sorted(fields)}"
    )
    assert inspect.iscoroutinefunction(httptools_impl.RequestResponseCycle.send)


def test_uvicorn_httptools_protocol_still_has_the_hooks_the_bounded_protocol_overrides() -> None:
    base = httptools_impl.HttpToolsProtocol
    hooks = ("data_received", "on_headers_complete", "on_message_complete", "send_400_response", "on_response_complete")
    for hook in hooks:
        assert callable(getattr(base, hook, None)), f"uvicorn's HttpToolsProtocol.{hook} is gone"
        assert hook in vars(BoundedHttpToolsProtocol)  # each one is overridden on purpose
    fields = _assigned_in(base)
    missing = {"config", "loop", "logger", "transport", "cycle", "url", "headers", "pipeline"} - fields
    assert not missing, f"uvicorn's HttpToolsProtocol no longer sets {sorted(missing)}"
    assert Config(app=lambda *a: None, h11_max_incomplete_event_size=4096).h11_max_incomplete_event_size == 4096


def test_a_lazy_route_holds_what_starlette_s_route_holds(settings_factory: Callable[..., Settings]) -> None:
    """``emulator.lazy.LazyRoute`` sets Route's attributes itself (to compile its path on first use): for every lazy
    route of the app, a ``Route`` made the ordinary way holds the same attributes with the same values."""
    app = create_app(settings_factory())
    lazy_routes = [r for r in app.routes if isinstance(r, LazyRoute)]
    assert len(lazy_routes) > 100
    for route in lazy_routes:
        plain = Route(route.path, route.endpoint, methods=route.methods, name=route.name)
        route.path_regex, route.path_format, route.param_convertors  # noqa: B018 - compiled, then attributes
        mine = {k: v for k, v in vars(route).items() if not k.startswith("_")}
        assert set(mine) == set(vars(plain)), f"Starlette's Route changed: {sorted(set(vars(plain)) ^ set(mine))}"
        for name in ("path", "endpoint", "name", "include_in_schema", "methods", "path_format"):
            assert getattr(route, name) == getattr(plain, name), (route.path, name)
        assert route.path_regex.pattern == plain.path_regex.pattern
        assert route.param_convertors.keys() == plain.param_convertors.keys()
        assert type(route.app) is type(plain.app)  # noqa: E721


def test_a_lazy_route_compiles_on_first_use_and_matches_like_a_route(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory())
    route = next(r for r in app.routes if isinstance(r, LazyRoute) and r.path == "/api/v1/files/{file_id}")
    assert "_compiled" not in vars(route)  # nothing compiled by building the app
    scope = {"type": "http", "path": "/api/v1/files/file-1", "method": "GET", "root_path": ""}
    match, child = route.matches(scope)
    assert match is Match.FULL and child["path_params"] == {"file_id": "file-1"}
    assert route.url_path_for(route.name, file_id="x") == "/api/v1/files/x"
