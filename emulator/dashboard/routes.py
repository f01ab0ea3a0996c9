"""The dashboard's route table: the pages (``pages``), the job's live stream, and the control forms (``actions``).

The routes are registered at start, but their modules (the views, the chart, the forms, and Jinja2 through
``templating.make_templates``) are imported on the first dashboard request: most runs never open the dashboard,
and those imports were a tenth of the server's start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from emulator.dashboard.templating import PREFIX
from emulator.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]
LAZY_MODULES = ("emulator.dashboard.pages", "emulator.dashboard.actions")
"""What the route table names without importing: ``tests/unit/test_import_graph.py`` holds them off start-up."""


def _lazy(name: str, resolve: Callable[[], Endpoint]) -> Endpoint:
    """An endpoint named ``name`` that imports its handler's module on its first request."""
    found: list[Endpoint] = []

    async def endpoint(request: Request) -> Response:
        if not found:
            found.append(resolve())
        return await found[0](request)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def _page(name: str) -> Endpoint:
    return _lazy(name, lambda: getattr(import_module("emulator.dashboard.pages"), name))


def _form(name: str) -> Endpoint:
    return _lazy(name, lambda: import_module("emulator.dashboard.actions").FORMS[name])


async def _to_home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


def routes(settings: Settings) -> list[BaseRoute]:
    """The dashboard lives with the control plane: switched off with it."""
    if not settings.control_plane:
        return []
    dashboard = f"{PREFIX}/dashboard"
    actions = f"{dashboard}/actions"
    return [
        Route(PREFIX, _to_home, methods=["GET"]),
        Route(f"{PREFIX}/", _page("home"), methods=["GET"], name="dashboard"),
        Route(f"{dashboard}/recent/jobs", _page("recent_jobs"), methods=["GET"]),
        Route(f"{dashboard}/tenants/{{tenant}}", _page("tenant_page"), methods=["GET"]),
        Route(f"{dashboard}/tenants/{{tenant}}/jobs", _page("tenant_jobs"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}", _page("job_page"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}/chart", _page("job_chart"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}/stream", _page("job_stream"), methods=["GET"]),
        Route(f"{dashboard}/login", _form("login"), methods=["POST"]),
        Route(f"{dashboard}/logout", _form("logout"), methods=["POST"]),
        Route(f"{actions}/clock/advance", _form("advance_clock"), methods=["POST"]),
        Route(f"{actions}/jobs/{{job_id}}/cancel", _form("cancel_job"), methods=["POST"]),
        Route(f"{actions}/jobs/{{job_id}}/status", _form("force_status"), methods=["POST"]),
        Route(f"{actions}/tenants/{{tenant}}/reset", _form("reset_tenant"), methods=["POST"]),
        Route(f"{actions}/faults/clear", _form("clear_faults"), methods=["POST"]),
        Mount(
            f"{PREFIX}/static", app=StaticFiles(packages=[("emulator.dashboard", "static")]), name="dashboard-static"
        ),
    ]
