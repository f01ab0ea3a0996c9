"""Rendering for the dashboard: the Jinja2 environment from the package, its filters, and the page frame."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

from emulator import __version__
from emulator.clock import beijing, fmt_job_time
from emulator.context import context as request_context
from emulator.runtime import Runtime
from emulator.runtime import runtime as runtime_of

PREFIX = "/_emulator"
FAULTS_PATH = "/_emulator/faults"
BADGES = {
    "PENDING": "neutral",
    "QUEUING": "waiting",
    "RUNNING": "running",
    "CANCELING": "warning",
    "SUCCEEDED": "success",
    "FAILED": "danger",
    "CANCELED": "muted",
}
DEPLOYMENT_BADGES = {
    "PENDING": "neutral",
    "DEPLOYING": "running",
    "RUNNING": "success",
    "UPDATING": "running",
    "FAILED": "danger",
    "DELETING": "warning",
}


def runtime(request: Request) -> Runtime:
    return runtime_of(request)


def has_route(app: Starlette, path: str, method: str) -> bool:
    """Whether this build serves ``method path``: controls for routes other resources add appear with them."""
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def duration(seconds: float | None) -> str:
    """``3h 07m``, ``4m 10s``, ``12s``: emulated time spans, to the second."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def when(ts: float | None) -> str:
    return "—" if ts is None else fmt_job_time(ts)


def short(ts: float | None, now: float) -> str:
    """Time of day when ``ts`` falls on the same (Beijing) day as ``now``, else month, day and time."""
    if ts is None:
        return "—"
    moment = beijing(ts)
    return f"{moment:%H:%M:%S}" if moment.date() == beijing(now).date() else f"{moment:%m-%d %H:%M}"


def hp_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return value if isinstance(value, str) else json.dumps(value)


def log_parts(line: str) -> tuple[str, str, str]:
    """``ts - LEVEL - message`` split for styling; the three parts joined by `` - `` give the line back."""
    parts = line.split(" - ", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else ("", "", line)


def make_templates() -> Jinja2Templates:
    """Built on the first page view: jinja2 costs ~50 ms of start-up that most CI runs never need."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
    from starlette.templating import Jinja2Templates

    env = Environment(
        loader=PackageLoader("emulator.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(duration=duration, size=size, when=when, short=short, hp=hp_value)
    env.globals.update(
        BADGES=BADGES, DEPLOYMENT_BADGES=DEPLOYMENT_BADGES, log_parts=log_parts, version=__version__, prefix=PREFIX
    )
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    rt = runtime(request)
    now = rt.clock.now()
    base = {
        "clock": {
            "now": now,
            "date": f"{beijing(now):%Y-%m-%d}",
            "time": f"{beijing(now):%H:%M:%S}",
            "scale": rt.clock.time_scale,
        },
        "seed": rt.settings.seed,
        "notice": request.query_params.get("notice"),
        "error": request.query_params.get("error"),
        "has_faults": has_route(request.app, FAULTS_PATH, "DELETE"),
        "faults": _fault_count(rt),
        "here": _here(request),
        "signed_in": rt.settings.admin_token is not None and request_context(request).admin is True,
    }
    templates = getattr(request.app.state, "dashboard_templates", None)
    if templates is None:
        templates = request.app.state.dashboard_templates = make_templates()
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _fault_count(rt: Runtime) -> int | None:
    """How many fault rules are armed (spent ones are not), when this build injects faults (``rt.faults``)."""
    rules = getattr(getattr(rt, "faults", None), "list", None)
    return sum(1 for r in rules() if getattr(r, "remaining", None) != 0) if callable(rules) else None


def _here(request: Request) -> str:
    """This page's address without the one-shot notice, for the forms' way back."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in ("notice", "error")])
    return request.url.path + (f"?{query}" if query else "")


def signed_out(request: Request) -> bool:
    """Under ``--admin-token``, whether this request lacks the token (or the dashboard's cookie)."""
    return request_context(request).admin is False


def login_page(request: Request) -> Response:
    """In place of any page under ``--admin-token`` without the token: the sign-in form, no tenant data."""
    return render(request, "login.html", {"tenants": [], "current": None, "next": _here(request)}, status_code=401)


def not_found(request: Request, what: str) -> Response:
    return render(request, "not_found.html", {"what": what, "tenants": []}, status_code=404)
