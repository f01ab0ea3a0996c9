"""The dashboard's route table: the pages (``pages``), the job's live stream, and the control forms (``actions``).

The routes are registered at start, but their modules (the views, the chart, the forms, and Jinja2 through
``templating.make_templates``) are imported on the first dashboard request (``emulator.lazy``): most runs never
open the dashboard, and those imports cost ~30 ms of every start.
"""

from __future__ import annotations

from importlib import import_module

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from emulator import lazy
from emulator.dashboard.templating import PREFIX
from emulator.lazy import Endpoint, LazyRoute
from emulator.settings import Settings


def _page(name: str) -> Endpoint:
    return lazy.handler(f"emulator.dashboard.pages:{name}")


def _debug(name: str) -> Endpoint:
    return lazy.handler(f"emulator.dashboard.debug_pages:{name}")


def _form(name: str) -> Endpoint:
    return lazy.endpoint(name, lambda: import_module("emulator.dashboard.actions").FORMS[name])


async def _to_home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


def routes(settings: Settings) -> list[BaseRoute]:
    """The dashboard lives with the control plane: switched off with it."""
    if not settings.control_plane:
        return []
    dashboard = f"{PREFIX}/dashboard"
    actions = f"{dashboard}/actions"
    deployment = f"{actions}/tenants/{{tenant}}/deployments/{{name}}"
    return [
        LazyRoute(PREFIX, _to_home, methods=["GET"]),
        LazyRoute(f"{PREFIX}/", _page("home"), methods=["GET"], name="dashboard"),
        LazyRoute(f"{dashboard}/recent/jobs", _page("recent_jobs"), methods=["GET"]),
        LazyRoute(f"{dashboard}/tenants/{{tenant}}", _page("tenant_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/tenants/{{tenant}}/jobs", _page("tenant_jobs"), methods=["GET"]),
        LazyRoute(f"{dashboard}/jobs/{{job_id}}", _page("job_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/jobs/{{job_id}}/chart", _page("job_chart"), methods=["GET"]),
        LazyRoute(f"{dashboard}/jobs/{{job_id}}/stream", _page("job_stream"), methods=["GET"]),
        LazyRoute(f"{dashboard}/requests", _debug("requests_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/requests/{{seq}}", _debug("request_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/rules", _debug("rules_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/tenants/{{tenant}}/deployments/{{name}}", _debug("deployment_page"), methods=["GET"]),
        LazyRoute(f"{dashboard}/login", _form("login"), methods=["POST"]),
        LazyRoute(f"{dashboard}/logout", _form("logout"), methods=["POST"]),
        LazyRoute(f"{actions}/clock/advance", _form("advance_clock"), methods=["POST"]),
        LazyRoute(f"{actions}/jobs/{{job_id}}/cancel", _form("cancel_job"), methods=["POST"]),
        LazyRoute(f"{actions}/jobs/{{job_id}}/status", _form("force_status"), methods=["POST"]),
        LazyRoute(f"{actions}/tenants/{{tenant}}/reset", _form("reset_tenant"), methods=["POST"]),
        LazyRoute(f"{actions}/faults/clear", _form("clear_faults"), methods=["POST"]),
        LazyRoute(f"{actions}/rules/add", _form("add_rule"), methods=["POST"]),
        LazyRoute(f"{actions}/rules/{{kind}}/clear", _form("clear_rules"), methods=["POST"]),
        LazyRoute(f"{actions}/rules/{{kind}}/{{rule_id}}/delete", _form("delete_rule"), methods=["POST"]),
        LazyRoute(f"{deployment}/scale", _form("scale_deployment"), methods=["POST"]),
        LazyRoute(f"{deployment}/status", _form("force_deployment"), methods=["POST"]),
        LazyRoute(f"{deployment}/delete", _form("delete_deployment"), methods=["POST"]),
        Mount(
            f"{PREFIX}/static", app=StaticFiles(packages=[("emulator.dashboard", "static")]), name="dashboard-static"
        ),
    ]
