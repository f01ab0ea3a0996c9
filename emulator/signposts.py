"""Where a lost client should go: ``GET /`` and the hint in a 404 for a path the emulator does not serve.

The usual setup mistake is a base URL without its prefix (``http://127.0.0.1:8000`` for the SDK, so it asks for
``/files``; ``/api/v1`` given to an OpenAI client, so it asks for ``/api/v1/chat/completions``).  The 404 then names
the path the client meant and the base URL that gets there.  Only the 404 path pays for it: the gateway asks here
after the router found nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from emulator import __version__

NATIVE = "/api/v1"
COMPATIBLE = "/compatible-mode/v1"
BASES = {
    NATIVE: "the native base URL (the dashscope SDK's DASHSCOPE_HTTP_BASE_URL)",
    COMPATIBLE: "the OpenAI-compatible base URL (OpenAI(base_url=...), OPENAI_BASE_URL)",
}
_PREFIX_SEGMENTS = {"api", "v1", "compatible-mode", "api-ws"}


def origin(scope: Scope) -> str:
    """``scheme://host[:port]`` as the client addressed this server (its ``Host`` header)."""
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def urls(scope: Scope) -> dict[str, str]:
    base = origin(scope)
    return {
        "native_base_url": base + NATIVE,
        "openai_base_url": base + COMPATIBLE,
        "dashboard": base + "/_emulator/",
        "docs": base + "/docs",
        "openapi": base + "/openapi.json",
    }


def not_found_message(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    path: str = scope["path"]
    base = origin(scope)
    meant = _meant(scope, routes)
    if meant is not None:
        prefix, candidate = meant
        return (
            f"Path not found: {path}. Did you mean {candidate}? The emulator serves it under {BASES[prefix]}: "
            f"{base}{prefix}"
        )
    if path.startswith("/_emulator"):
        return f"Path not found: {path}"
    if path.startswith((NATIVE, COMPATIBLE)):
        return f"Path not found: {path} (the operations served: {base}/docs)"
    return (
        f"Path not found: {path}. The emulator serves the native API under {base}{NATIVE} and the "
        f"OpenAI-compatible one under {base}{COMPATIBLE}; the dashboard is {base}/_emulator/, the API reference "
        f"{base}/docs"
    )


def _meant(scope: Scope, routes: Sequence[BaseRoute]) -> tuple[str, str] | None:
    """The served path a client probably meant: the path's rest, past any prefix-like segments, under a base."""
    segments = scope["path"].strip("/").split("/")
    skipped = 0
    while skipped < 3 and skipped < len(segments) - 1 and _prefix_like(segments[skipped]):
        skipped += 1
    rest = "/".join(segments[skipped:])
    if not rest:
        return None
    # OpenAI's own layout (/v1/...: an OpenAI client's base URL without /compatible-mode) means the compatible API
    # first, where both bases serve the rest (/v1/models, /v1/files).
    bases = (COMPATIBLE, NATIVE) if segments[0] == "v1" else BASES
    for prefix in bases:
        candidate = f"{prefix}/{rest}"
        if candidate == scope["path"]:
            continue
        probe = {**scope, "path": candidate, "root_path": ""}
        for route in routes:
            if isinstance(route, Route) and route.matches(probe)[0] is not Match.NONE:
                return prefix, candidate
    return None


def _prefix_like(segment: str) -> bool:
    return segment in _PREFIX_SEGMENTS or (segment[:1] == "v" and segment[1:].isdigit())


_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dashscope-emulator</title>
<link rel="icon" href="/_emulator/static/favicon.svg">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:.1rem .3rem}}</style></head>
<body><h1>dashscope-emulator {version}</h1>
<p>A local emulator of Alibaba Cloud Model Studio (DashScope). Point your clients here:</p>
<ul>
<li>native API (the <code>dashscope</code> SDK): <code>DASHSCOPE_HTTP_BASE_URL={native_base_url}</code></li>
<li>OpenAI-compatible API: <code>OPENAI_BASE_URL={openai_base_url}</code></li>
</ul>
<ul>
<li><a href="/_emulator/">Dashboard</a>: tenants, jobs, deployments, the clock</li>
<li><a href="/docs">API reference</a> (<a href="/openapi.json">openapi.json</a>)</li>
</ul></body></html>
"""


async def home(request: Request) -> Response:
    """A page for a browser, JSON for anything else (curl, an API client)."""
    links = urls(request.scope)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_HOME.format(version=__version__, **{k: escape(v) for k, v in links.items()}))
    return JSONResponse({"name": "dashscope-emulator", "version": __version__, **links})


def routes() -> list[BaseRoute]:
    return [Route("/", home, methods=["GET"])]
