"""The dashboard's debugging pages: the request journal (a list and one request), the rules, a deployment.

Their routes are in ``emulator.dashboard.routes``; what they show is gathered by ``emulator.dashboard.debugging``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.dashboard import debugging, views
from emulator.dashboard.templating import login_page, not_found, render, runtime, signed_out
from emulator.errors import NotFound
from emulator.services import services


async def requests_page(request: Request) -> Response:
    if signed_out(request):
        return login_page(request)
    rt = runtime(request)
    filters, error = debugging.RequestFilters.parse(dict(request.query_params))
    page = debugging.requests_page(rt, filters, error)
    tenants = await views.tenants(rt)
    return render(
        request,
        "requests.html",
        {"page": page, "tenants": tenants, "current": None, "labels": {t.id: t.key_hint for t in tenants}},
    )


async def request_page(request: Request) -> Response:
    if signed_out(request):
        return login_page(request)
    rt = runtime(request)
    try:
        seq = int(request.path_params["seq"])
    except ValueError:
        seq = -1
    found = debugging.find_request(rt, seq)
    if found is None:
        return not_found(
            request,
            f"No request #{request.path_params['seq']} in the journal (it keeps the newest "
            f"{rt.settings.journal_size}).",
        )
    return render(
        request,
        "request.html",
        {"e": found, "pretty": debugging.pretty, "tenants": await views.tenants(rt), "current": found.tenant},
    )


async def rules_page(request: Request) -> Response:
    if signed_out(request):
        return login_page(request)
    rt = runtime(request)
    faults, responses = debugging.rule_rows(rt)
    return render(
        request,
        "rules.html",
        {"faults": faults, "responses": responses, "tenants": await views.tenants(rt), "current": None},
    )


async def deployment_page(request: Request) -> Response:
    if signed_out(request):
        return login_page(request)
    rt = runtime(request)
    record = await views.tenant(rt, request.path_params["tenant"])
    name = request.path_params["name"]
    if record is None:
        return not_found(request, f"No tenant {request.path_params['tenant']!r} has been seen.")
    try:
        page = await debugging.deployment_page(rt, services(request), record, name)
    except NotFound:
        return not_found(request, f"No deployment {name!r} for this tenant (a deleted one is gone).")
    return render(request, "deployment.html", {"page": page, "tenants": await views.tenants(rt), "current": record.id})
