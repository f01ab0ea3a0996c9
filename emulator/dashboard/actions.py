"""The dashboard's controls: HTML form posts turned into control-plane calls, then a redirect back.

Each control calls the control plane's own route in-process (``call_control``), so the dashboard does exactly
what a test's HTTP call would; only cancelling goes to the fine-tunes service directly, as the tenant the
job belongs to.  Destructive controls need ``confirmed=yes``: the page's script asks with ``confirm()``,
and without JavaScript the first post answers a confirmation page instead.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from emulator.dashboard import store
from emulator.dashboard.templating import FAULTS_PATH, PREFIX, duration, has_route, render, runtime, when
from emulator.errors import ApiError
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import JobStatus

ADVANCE_PRESETS = (("1 minute", 60), ("10 minutes", 600), ("1 hour", 3600), ("1 day", 86400))
MAX_ADVANCE = 10 * 365 * 86400
KINDS = {"files": "file", "fine_tunes": "fine-tune job", "deployments": "deployment"}


class ControlCallFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------------- plumbing


def force_route(job_id: str) -> str:
    return f"/_emulator/fine-tunes/{job_id}/status"


async def call_control(app: Starlette, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One in-process request through the whole app (middleware included); answers the JSON body."""
    payload = b"" if body is None else json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"dashboard.internal"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        "client": ("127.0.0.1", 0),
        "server": ("dashboard.internal", 80),
    }
    requests = [{"type": "http.request", "body": payload, "more_body": False}]
    answer: dict[str, Any] = {"status": 500, "body": b""}

    async def receive() -> Message:
        return requests.pop() if requests else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    data = json.loads(answer["body"]) if answer["body"] else None
    if answer["status"] >= 400:
        message = data.get("message") if isinstance(data, dict) else None
        raise ControlCallFailed(answer["status"], str(message or f"{method} {path} answered {answer['status']}"))
    return data


def _next(form: FormData) -> str:
    """Only back into the dashboard: never an open redirect."""
    target = str(form.get("next") or "")
    if not target.startswith(f"{PREFIX}/") or target.startswith("//") or "\\" in target:
        return f"{PREFIX}/"
    return target


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def back(target: str, **flash: str) -> RedirectResponse:
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(flash)}" if flash else target, status_code=303)


def _confirm(request: Request, form: FormData, title: str, detail: str, button: str) -> Response:
    fields = [(k, str(v)) for k, v in form.multi_items() if k != "confirmed"]
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "detail": detail,
            "button": button,
            "action": request.url.path,
            "fields": fields,
            "back": _next(form),
            "tenants": [],
            "current": None,
        },
    )


Handler = Callable[[Request, FormData], Awaitable[Response]]


def _form_action(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if request.headers.get("sec-fetch-site") == "cross-site":
            return Response("The dashboard's controls accept posts from its own pages only.", status_code=403)
        async with request.form() as form:  # closes the temp files of any uploaded part
            try:
                return await handler(request, form)
            except (ApiError, ControlCallFailed) as exc:
                return back(_next(form), error=exc.message)

    return endpoint


# ---------------------------------------------------------------------------------------------------- controls


async def advance_clock(request: Request, form: FormData) -> Response:
    # a preset button and the custom field share the name: the browser sends both, one of them empty
    given = [str(v).strip() for v in form.getlist("seconds") if str(v).strip()]
    try:
        seconds = float(given[0] if given else "")
    except ValueError:
        return back(_next(form), error="Advance the clock by a number of seconds.")
    if not 0 < seconds <= MAX_ADVANCE:
        return back(_next(form), error=f"Advance by more than 0 and at most {MAX_ADVANCE} seconds.")
    clock = await call_control(request.app, "POST", "/_emulator/clock/advance", {"seconds": seconds})
    return back(_next(form), notice=f"Clock advanced by {duration(seconds)} to {when(clock['now'])}.")


async def cancel_job(request: Request, form: FormData) -> Response:
    job_id = request.path_params["job_id"]
    if form.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            f"Cancel job {job_id}?",
            "A running job stops training and saves no model; "
            "a waiting job is canceled at once. This cannot be undone.",
            "Cancel the job",
        )
    service: FineTunesService = runtime(request).services.fine_tunes
    job = await service.find_job(job_id)
    record = await store.get_tenant(runtime(request).db, job.tenant)
    if record is None:
        return back(_next(form), error=f"The tenant of {job_id} is no longer known.")
    job = await service.cancel_job(record.as_tenant(), job_id)
    return back(_next(form), notice=f"Job {job_id} is {job.status.value}.")


async def force_status(request: Request, form: FormData) -> Response:
    job_id = request.path_params["job_id"]
    target = str(form.get("status") or "")
    if target not in JobStatus.__members__:
        return back(_next(form), error=f"Choose a status to force (got {target!r}).")
    message = str(form.get("message") or "").strip() or None
    if form.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            f"Force job {job_id} to {target}?",
            "The job moves at once, as if the service had done it; its log records the change.",
            f"Force {target}",
        )
    if has_route(request.app, force_route(job_id), "POST"):
        body = {"status": target} | ({"message": message} if message else {})
        await call_control(request.app, "POST", force_route(job_id), body)
    else:
        await runtime(request).services.fine_tunes.force_status(job_id, JobStatus(target), message)
    return back(_next(form), notice=f"Job {job_id} forced to {target}.")


async def reset_tenant(request: Request, form: FormData) -> Response:
    tenant_id = request.path_params["tenant"]
    record = await store.get_tenant(runtime(request).db, tenant_id)
    if record is None:
        return back(f"{PREFIX}/", error=f"No tenant {tenant_id!r}.")
    if form.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            f"Reset tenant {record.key_hint}?",
            f"Deletes {plural(record.files, 'file')}, {plural(record.jobs, 'fine-tune job')} and "
            f"{plural(record.deployments, 'deployment')} of this tenant. Other tenants keep theirs. "
            "This cannot be undone.",
            "Reset the tenant",
        )
    answer = await call_control(request.app, "POST", "/_emulator/reset", {"tenant": tenant_id})
    removed = ", ".join(plural(n, KINDS.get(kind, kind)) for kind, n in answer.get("removed", {}).items())
    return back(f"{PREFIX}/dashboard/tenants/{tenant_id}", notice=f"Tenant reset ({removed or 'nothing held'}).")


async def clear_faults(request: Request, form: FormData) -> Response:
    if not has_route(request.app, FAULTS_PATH, "DELETE"):
        return back(_next(form), error="This emulator has no fault injection to clear.")
    if form.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            "Clear all injected faults?",
            "Every fault rule set through the control plane is removed; calls behave normally again.",
            "Clear faults",
        )
    answer = await call_control(request.app, "DELETE", FAULTS_PATH)
    removed = answer.get("removed") if isinstance(answer, dict) else None
    return back(
        _next(form),
        notice="All faults cleared" + (f" ({plural(removed, 'rule')})." if isinstance(removed, int) else "."),
    )


def routes(prefix: str) -> list[BaseRoute]:
    base = f"{prefix}/dashboard/actions"
    return [
        Route(f"{base}/clock/advance", _form_action(advance_clock), methods=["POST"]),
        Route(f"{base}/jobs/{{job_id}}/cancel", _form_action(cancel_job), methods=["POST"]),
        Route(f"{base}/jobs/{{job_id}}/status", _form_action(force_status), methods=["POST"]),
        Route(f"{base}/tenants/{{tenant}}/reset", _form_action(reset_tenant), methods=["POST"]),
        Route(f"{base}/faults/clear", _form_action(clear_faults), methods=["POST"]),
    ]
