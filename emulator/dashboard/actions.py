"""The dashboard's controls: HTML form posts turned into control-plane calls, then a redirect back.

Each control calls the control service (``emulator.control.service``), the same functions the control
routes call; cancelling goes to the fine-tunes service, as the tenant the job belongs to.  Destructive
controls need ``confirmed=yes``: the page's script asks with ``confirm()``, and without JavaScript the
first post answers a confirmation page instead.

The server's guard (``emulator.guard``) refuses posts from other origins before they get here.
Under ``--admin-token`` the login form takes the token once and sets an HttpOnly, SameSite=Strict cookie
derived from it, which the dashboard's pages and controls then carry.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emulator.control import service
from emulator.dashboard import store
from emulator.dashboard.templating import FAULTS_PATH, PREFIX, duration, has_route, render, runtime, when
from emulator.deployments.states import DeploymentStatus
from emulator.errors import ApiError, InvalidParameter
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import JobStatus
from emulator.guard import DASHBOARD_COOKIE, dashboard_session
from emulator.services import services
from emulator.tenants import Tenant

MAX_ADVANCE = 10 * 365 * 86400
KINDS = {"files": "file", "fine_tunes": "fine-tune job", "deployments": "deployment"}


# ---------------------------------------------------------------------------------------------------- plumbing


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
        async with request.form() as form:  # closes the temp files of any uploaded part
            try:
                return await handler(request, form)
            except ApiError as exc:
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
    clock = await service.advance_clock(runtime(request), services(request), seconds)
    return back(_next(form), notice=f"Clock advanced by {duration(seconds)} to {when(clock.now)}.")


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
    fine_tunes: FineTunesService = services(request).fine_tunes
    job = await fine_tunes.find_job(job_id)
    record = await store.get_tenant(runtime(request).db, job.tenant)
    if record is None:
        return back(_next(form), error=f"The tenant of {job_id} is no longer known.")
    job = await fine_tunes.cancel_job(record.as_tenant(), job_id)
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
    await service.force_fine_tune_status(services(request), job_id, JobStatus(target), message)
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
    counts = await service.reset(runtime(request), services(request), tenant_id)
    removed = ", ".join(plural(n, KINDS.get(kind, kind)) for kind, n in counts.items())
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
    removed = service.clear_faults(runtime(request))
    return back(_next(form), notice=f"All faults cleared ({plural(removed, 'rule')}).")


# ---------------------------------------------------------------------------------------------------- rules

RULE_KINDS = ("fault", "response")


def _kind(request: Request) -> str:
    kind = str(request.path_params.get("kind") or "")
    if kind not in RULE_KINDS:
        raise InvalidParameter(f"No rule kind {kind!r}: fault or response.")
    return kind


async def add_rule(request: Request, form: FormData) -> Response:
    """The rule as JSON, exactly what ``POST /_emulator/faults`` or ``/_emulator/responses`` take."""
    kind = str(form.get("kind") or "")
    if kind not in RULE_KINDS:
        return back(_next(form), error="Choose a rule kind: fault or response.")
    from emulator.control.schemas import FaultRuleSpec, ResponseRuleSpec
    from emulator.http import parse_json, parse_model

    text = str(form.get("rule") or "").strip()
    try:
        body = parse_json(text.encode())
    except ApiError as exc:
        return back(_next(form), error=f"The rule is not JSON: {exc.message}")
    if not isinstance(body, dict):
        return back(_next(form), error='The rule is a JSON object, such as {"path": "/api/v1/files"}.')
    rt = runtime(request)
    if kind == "fault":
        rule_id = service.add_fault(rt, parse_model(FaultRuleSpec, body)).id
    else:
        rule_id = rt.responses.add(parse_model(ResponseRuleSpec, body)).id
    return back(_next(form), notice=f"Rule {rule_id} added.")


async def delete_rule(request: Request, form: FormData) -> Response:
    kind, rule_id = _kind(request), request.path_params["rule_id"]
    rt = runtime(request)
    removed = rt.faults.remove(rule_id) if kind == "fault" else rt.responses.remove(rule_id)
    if not removed:
        return back(_next(form), error=f"No {kind} rule {rule_id} (a rule with count is removed once used up).")
    return back(_next(form), notice=f"Rule {rule_id} deleted.")


async def clear_rules(request: Request, form: FormData) -> Response:
    kind = _kind(request)
    if form.get("confirmed") != "yes":
        return _confirm(request, form, f"Remove every {kind} rule?", "Calls behave normally again.", "Clear")
    rt = runtime(request)
    removed = service.clear_faults(rt) if kind == "fault" else rt.responses.clear()
    return back(_next(form), notice=f"{plural(removed, kind + ' rule')} removed.")


# ---------------------------------------------------------------------------------------------------- deployments


async def _deployment_tenant(request: Request) -> Tenant:
    record = await store.get_tenant(runtime(request).db, request.path_params["tenant"])
    if record is None:
        raise InvalidParameter(f"No tenant {request.path_params['tenant']!r}.")
    return record.as_tenant()


async def scale_deployment(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    try:
        capacity = int(str(form.get("capacity") or ""))
    except ValueError:
        return back(_next(form), error="Scale to a whole number of instances.")
    tenant = await _deployment_tenant(request)
    row = await services(request).deployments.scale_deployment(tenant, name, capacity)
    return back(_next(form), notice=f"{name} scaling to {row.capacity} ({row.status.value}).")


async def force_deployment(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    target = str(form.get("status") or "")
    if target not in DeploymentStatus.__members__:
        return back(_next(form), error=f"Choose a status to force (got {target!r}).")
    message = str(form.get("message") or "").strip() or None
    if form.get("confirmed") != "yes":
        return _confirm(request, form, f"Force {name} to {target}?", "The deployment moves at once.", f"Force {target}")
    tenant = await _deployment_tenant(request)
    await service.force_deployment_status(services(request), name, DeploymentStatus(target), message, tenant.id)
    return back(_next(form), notice=f"{name} forced to {target}.")


async def delete_deployment(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    if form.get("confirmed") != "yes":
        return _confirm(request, form, f"Delete {name}?", "It goes offline (DELETING), then is gone.", "Delete")
    tenant = await _deployment_tenant(request)
    row = await services(request).deployments.delete_deployment(tenant, name)
    return back(_next(form), notice=f"{name} is {row.status.value}.")


async def login(request: Request, form: FormData) -> Response:
    """``--admin-token``: the token, entered once, becomes an HttpOnly SameSite=Strict cookie derived from it."""
    token = runtime(request).settings.admin_token
    if token is None:
        return back(_next(form))
    if not hmac.compare_digest(str(form.get("token") or "").encode(), token.encode()):
        return back(f"{PREFIX}/", error="That is not the admin token.")
    response = back(_next(form), notice="Signed in.")
    response.set_cookie(DASHBOARD_COOKIE, dashboard_session(token), path=PREFIX, httponly=True, samesite="strict")
    return response


async def logout(request: Request, form: FormData) -> Response:
    response = back(f"{PREFIX}/", notice="Signed out.")
    response.delete_cookie(DASHBOARD_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


FORMS: dict[str, Callable[[Request], Awaitable[Response]]] = {
    "login": _form_action(login),
    "logout": _form_action(logout),
    "advance_clock": _form_action(advance_clock),
    "cancel_job": _form_action(cancel_job),
    "force_status": _form_action(force_status),
    "reset_tenant": _form_action(reset_tenant),
    "clear_faults": _form_action(clear_faults),
    "add_rule": _form_action(add_rule),
    "delete_rule": _form_action(delete_rule),
    "clear_rules": _form_action(clear_rules),
    "scale_deployment": _form_action(scale_deployment),
    "force_deployment": _form_action(force_deployment),
    "delete_deployment": _form_action(delete_deployment),
}
"""The form posts by name: ``emulator.dashboard.routes`` maps their paths to them."""
