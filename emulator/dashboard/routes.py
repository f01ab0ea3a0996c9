"""The dashboard's route table: the pages (``pages``), the job's live stream, and the control forms (``actions``).

The routes are registered at start, but their modules (the views, the chart, the forms, and Jinja2 through
``templating.make_templates``) are imported on the first dashboard request (``emulator.lazy``): most runs never
open the dashboard, and those imports cost ~30 ms of every start.
"""

from __future__ import annotations

from importlib import import_module

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from emulator import lazy
from emulator.dashboard.templating import PREFIX
from emulator.lazy import Endpoint
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
    return [
        Route(PREFIX, _to_home, methods=["GET"]),
        Route(f"{PREFIX}/", _page("home"), methods=["GET"], name="dashboard"),
        Route(f"{dashboard}/recent/jobs", _page("recent_jobs"), methods=["GET"]),
        Route(f"{dashboard}/tenants/{{tenant}}", _page("tenant_page"), methods=["GET"]),
        Route(f"{dashboard}/tenants/{{tenant}}/jobs", _page("tenant_jobs"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}", _page("job_page"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}/chart", _page("job_chart"), methods=["GET"]),
        Route(f"{dashboard}/jobs/{{job_id}}/stream", _page("job_stream"), methods=["GET"]),
        Route(f"{dashboard}/requests", _debug("requests_page"), methods=["GET"]),
        Route(f"{dashboard}/requests/{{seq}}", _debug("request_page"), methods=["GET"]),
        Route(f"{dashboard}/rules", _debug("rules_page"), methods=["GET"]),
        Route(f"{dashboard}/tenants/{{tenant}}/deployments/{{name}}", _debug("deployment_page"), methods=["GET"]),
        Route(f"{dashboard}/login", _form("login"), methods=["POST"]),
        Route(f"{dashboard}/logout", _form("logout"), methods=["POST"]),
        Route(f"{actions}/clock/advance", _form("advance_clock"), methods=["POST"]),
        Route(f"{actions}/jobs/{{job_id}}/cancel", _form("cancel_job"), methods=["POST"]),
        Route(f"{actions}/jobs/{{job_id}}/status", _form("force_status"), methods=["POST"]),
        Route(f"{actions}/tenants/{{tenant}}/reset", _form("reset_tenant"), methods=["POST"]),
        Route(f"{actions}/faults/clear", _form("clear_faults"), methods=["POST"]),
        Route(f"{actions}/rules/add", _form("add_rule"), methods=["POST"]),
        Route(f"{actions}/rules/{{kind}}/clear", _form("clear_rules"), methods=["POST"]),
        Route(f"{actions}/rules/{{kind}}/{{rule_id}}/delete", _form("delete_rule"), methods=["POST"]),
        Route(f"{actions}/tenants/{{tenant}}/deployments/{{name}}/scale", _form("scale_deployment"), methods=["POST"]),
        Route(f"{actions}/tenants/{{tenant}}/deployments/{{name}}/status", _form("force_deployment"), methods=["POST"]),
        Route(
            f"{actions}/tenants/{{tenant}}/deployments/{{name}}/delete", _form("delete_deployment"), methods=["POST"]
        ),
        Mount(
            f"{PREFIX}/static", app=StaticFiles(packages=[("emulator.dashboard", "static")]), name="dashboard-static"
        ),
    ]
