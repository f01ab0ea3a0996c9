"""HTTP for /api/v1/fine-tunes: parse, call the service, shape the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller, context
from emulator.errors import InvalidParameter, NotFound
from emulator.fine_tunes.schemas import CreateJobRequest, LogsOutput, StatusOutput
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.store import JobRow
from emulator.fine_tunes.wire import job_dict
from emulator.http import envelope, envelope_encoded, read_model, render_json
from emulator.pagination import parse_page
from emulator.services import services
from emulator.sse import HEARTBEAT, encode, encode_json, stream_response

MAX_LOG_PAGE = 1000


async def create_job(request: Request) -> JSONResponse:
    req = await read_model(request, CreateJobRequest)
    job = await services(request).fine_tunes.create_job(caller(request), req)
    return envelope(request, "output", job_dict(job))


async def list_jobs(request: Request) -> JSONResponse:
    page = parse_page(request.query_params)
    model = request.query_params.get("model") or None
    total, jobs = await services(request).fine_tunes.list_jobs(caller(request), page.offset, page.page_size, model)
    data = {"page_no": page.page_no, "page_size": page.page_size, "total": total, "jobs": [job_dict(j) for j in jobs]}
    return envelope(request, "output", data)


def _job_output(job: JobRow) -> bytes:
    return render_json(job_dict(job))


async def get_job(request: Request) -> JSONResponse:
    output = await services(request).fine_tunes.job_view(caller(request), request.path_params["job_id"], _job_output)
    return envelope_encoded(request, "output", output)


async def cancel_job(request: Request) -> JSONResponse:
    await services(request).fine_tunes.cancel_job(caller(request), request.path_params["job_id"])
    return envelope(request, "output", StatusOutput().model_dump())


async def delete_job(request: Request) -> JSONResponse:
    await services(request).fine_tunes.delete_job(caller(request), request.path_params["job_id"])
    return envelope(request, "output", StatusOutput().model_dump())


def _log_window(request: Request) -> tuple[int, int]:
    """``offset`` 0 and 1 both mean the first line (the SDKs send 1, the seed's curl 0); ``line`` ≤ 1000."""
    try:
        offset = int(request.query_params.get("offset") or 0)
        line = int(request.query_params.get("line") or 100)
    except ValueError:
        raise InvalidParameter("offset and line must be integers.") from None
    if offset < 0 or line < 1:
        raise InvalidParameter("offset must be >= 0 and line >= 1.")
    return max(offset, 1) - 1, min(line, MAX_LOG_PAGE)


async def job_logs(request: Request) -> JSONResponse:
    start, count = _log_window(request)
    _, lines = await services(request).fine_tunes.job_logs(caller(request), request.path_params["job_id"])
    data = LogsOutput(total=len(lines), logs=lines[start : start + count])
    return envelope(request, "output", data.model_dump())


async def stream_job(request: Request) -> Response:
    """Each new log line as one SSE event; open (with heartbeats) until the job is final, then closed."""
    service = services(request).fine_tunes
    tenant = caller(request)
    job_id = request.path_params["job_id"]
    await service.get_job(tenant, job_id)  # a 404 goes out as JSON, before the stream starts
    return stream_response(_follow(request, service, job_id))


async def _follow(request: Request, service: FineTunesService, job_id: str) -> AsyncIterator[bytes]:
    sent = 0
    async for look in service.watch(job_id, caller(request)):
        if look.timed_out:
            yield HEARTBEAT
        if look.job is None:
            exc = NotFound()
            yield encode_json(
                {"code": exc.code, "message": exc.message, "request_id": context(request).request_id},
                event="error",
                status=404,
            )
            return
        lines = service.logs.visible(look.job, look.now)
        for index in range(sent, len(lines)):
            yield encode(lines[index], event="result", event_id=index + 1)
        sent = max(sent, len(lines))
