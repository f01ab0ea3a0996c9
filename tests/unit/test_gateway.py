"""The gateway's route index picks exactly the route Starlette's own walk would, for any path and method."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match, Route

from emulator.app import create_app
from emulator.gateway import RouteIndex
from emulator.settings import Settings

APP = create_app(Settings(db=":memory:", data_dir=Path("never-created"), time_scale=0.0))  # never started
ROUTES: list[BaseRoute] = APP.router.routes
INDEX = RouteIndex(ROUTES)
TEMPLATES = sorted({r.path for r in ROUTES if isinstance(r, Route)})
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]

segment = st.one_of(
    st.sampled_from(["api", "v1", "fine-tunes", "files", "_emulator", "compatible-mode", "deployments", "x", ""]),
    st.text(alphabet="abc-_.%:0123456789", min_size=0, max_size=6),
)


def _walk(scope: dict[str, Any]) -> BaseRoute | None:
    """Starlette's own rule: the first route that matches fully."""
    for route in ROUTES:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


@st.composite
def paths(draw: st.DrawFn) -> str:
    """Real templates with their parameters filled (and sometimes bent), or made-up paths."""
    if draw(st.booleans()):
        template = draw(st.sampled_from(TEMPLATES))
        path = re.sub(r"\{[^}]*\}", lambda _: draw(st.text(alphabet="abz-019/", min_size=0, max_size=5)), template)
        return path + draw(st.sampled_from(["", "/", "/extra"]))
    return "/" + "/".join(draw(st.lists(segment, max_size=6)))


@settings(max_examples=600, deadline=None)
@given(path=paths(), method=st.sampled_from(METHODS))
def test_the_index_finds_the_route_the_walk_finds(path: str, method: str) -> None:
    scope = _scope(path, method)
    found, _ = INDEX.match(scope)
    assert found is _walk(scope)


def test_every_template_is_filed_or_tried_for_every_path() -> None:
    filed = {id(entry[0]) for bucket in INDEX.buckets.values() for entry in bucket}
    assert all(id(r) in filed or r in [entry[0] for entry in INDEX.fallback] for r in ROUTES)
    assert len(INDEX.fallback) < len(ROUTES) // 4  # the index does prune: most routes sit in a bucket


def test_a_root_path_is_taken_off_before_the_lookup() -> None:
    scope = {**_scope("/prefix/api/v1/files", "GET"), "root_path": "/prefix"}
    found, _ = INDEX.match(scope)
    assert found is _walk(scope)
    assert isinstance(found, Route) and found.path == "/api/v1/files"


def test_add_middleware_is_refused_not_silently_ignored(tmp_path: Path) -> None:
    """The gateway replaces Starlette's middleware stack: a middleware added the Starlette way would never run."""
    from starlette.middleware.gzip import GZipMiddleware

    app = create_app(Settings(db=str(tmp_path / "e.db"), data_dir=tmp_path / "f"))
    with pytest.raises(TypeError, match="wrap the app"):
        app.add_middleware(GZipMiddleware)
