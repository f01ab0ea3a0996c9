"""The dashboard's pages and the job's live stream (their routes: ``emulator.dashboard.routes``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emulator.catalog import load_catalog
from emulator.dashboard import views
from emulator.dashboard.templating import BADGES, PREFIX, login_page, not_found, render, runtime, signed_out, when
from emulator.dashboard.views import JobView
from emulator.errors import NotFound
from emulator.fine_tunes.service import FineTunesService
from emulator.services import services
from emulator.sse import HEARTBEAT, encode, encode_json, stream_response

LIVE_TICK_SECONDS = 1.0  # a running job's progress bar moves at least this often (wall seconds)


# ---------------------------------------------------------------------------------------------------- pages


async def home(request: Request) -> Response:
    if signed_out(request):
        return login_page(request)
    wanted = request.query_params.get("tenant")
    if wanted:
        return RedirectResponse(f"{PREFIX}/dashboard/tenants/{quote(wanted, safe=':')}", status_code=303)
    page = await views.home_page(runtime(request), services(request))
    catalog = load_catalog()
    models = {"total": len(catalog.models()), "user": [m.capabilities() for m in catalog.user_models()]}
    return render(request, "home.html", {"page": page, "tenants": page.tenants, "current": None, "models": models})


async def recent_jobs(request: Request) -> Response:
    """The landing page's recent jobs rows alone: its script swaps them in while jobs are active."""
    return render(
        request, "_recent_job_rows.html", {"jobs": await views.recent_job_rows(runtime(request), services(request))}
    )


async def tenant_page(request: Request) -> Response:
    rt = runtime(request)
    record = await views.tenant(rt, request.path_params["tenant"])
    if record is None:
        return not_found(request, f"No tenant {request.path_params['tenant']!r} has been seen.")
    page = await views.tenant_page(rt, services(request), record)
    return render(request, "tenant.html", {"page": page, "tenants": await views.tenants(rt), "current": record.id})


async def tenant_jobs(request: Request) -> Response:
    """The jobs table's rows alone: the page's script swaps them in while jobs are active."""
    rt = runtime(request)
    record = await views.tenant(rt, request.path_params["tenant"])
    if record is None:
        return not_found(request, "No such tenant.")
    total, jobs = await views.jobs_of(rt, services(request), record)
    return render(request, "_job_rows.html", {"jobs": jobs, "jobs_total": total})


async def job_page(request: Request) -> Response:
    rt = runtime(request)
    try:
        page = await views.job_page(
            rt, services(request), request.path_params["job_id"], full_log=request.query_params.get("log") == "all"
        )
    except NotFound:
        return not_found(request, f"No fine-tune job {request.path_params['job_id']!r}.")
    tenants = await views.tenants(rt)
    return render(
        request, "job.html", {"page": page, "tenants": tenants, "current": page.tenant.id if page.tenant else None}
    )


async def job_chart(request: Request) -> Response:
    try:
        page = await views.job_page(runtime(request), services(request), request.path_params["job_id"])
    except NotFound:
        return not_found(request, "No such job.")
    return render(request, "_chart.html", {"chart": page.chart})


# ---------------------------------------------------------------------------------------------------- live


def job_state(view: JobView, lines: int) -> dict[str, Any]:
    progress = view.progress
    return {
        "status": view.job.status.value,
        "badge": BADGES[view.job.status.value],
        "phase": progress.phase,
        "step": progress.step,
        "total": progress.total,
        "percent": progress.percent,
        "eta": when(progress.eta) if progress.eta is not None else None,
        "lines": lines,
    }


async def job_stream(request: Request) -> Response:
    """The dashboard's own view of ``/api/v1/fine-tunes/{id}/stream``: no API key, plus progress events.

    ``event:log`` carries one log line (``id`` is its 1-based number), ``event:job`` the status and progress
    whenever they move; the stream closes after the job reaches a final status.
    """
    job_id = request.path_params["job_id"]
    try:
        await services(request).fine_tunes.find_job(job_id)
    except NotFound:
        return not_found(request, "No such job.")
    try:
        sent = max(0, int(request.query_params.get("from") or 0))
    except ValueError:
        sent = 0
    return stream_response(_follow(services(request).fine_tunes, job_id, sent))


async def _follow(service: FineTunesService, job_id: str, sent: int) -> AsyncIterator[bytes]:
    last: dict[str, Any] | None = None
    async for look in service.watch(job_id, tick=LIVE_TICK_SECONDS):
        if look.timed_out:
            yield HEARTBEAT
        job = look.job
        if job is None:
            yield encode_json({"code": "NotFound", "message": f"job {job_id} is gone"}, event="error")
            return
        lines = service.logs.visible(job, look.now)
        for index in range(sent, len(lines)):
            yield encode(lines[index], event="log", event_id=index + 1)
        sent = max(sent, len(lines))
        state = job_state(JobView(job, views.job_progress(job, look.now, service)), len(lines))
        if state != last:
            yield encode_json(state, event="job")
            last = state
