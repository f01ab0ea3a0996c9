"""HTTP for /api/v1/tasks: get, list, cancel; and the result downloads their signed URLs point at."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from emulator.context import caller
from emulator.errors import AccessDenied, InvalidParameter
from emulator.http import FastJSONResponse, envelope, request_id
from emulator.pagination import parse_page
from emulator.runtime import runtime
from emulator.services import services
from emulator.tasks.service import TasksService, parse_task_time
from emulator.tasks.states import TaskStatus

DAY = 24 * 3600.0
V2_CLIENT = "dashscope-v2-"
"""The User-Agent of dashscope 2.x's ``Client`` (``dashscope-v2-python/2.0.2``): its ``jobs.list`` reads ``tasks``
(items shaped as a fetched task), not the ``data`` the service sends (reference 2026-apps §8.4, §10 Q8)."""


def _service(request: Request) -> TasksService:
    return services(request).tasks


async def get_task(request: Request) -> Response:
    service = _service(request)
    task_id = request.path_params["task_id"]
    task = await service.get_task(caller(request), task_id)
    if task is None:  # the service answers 200 UNKNOWN, not 404 (reference §8.1)
        return envelope(request, "output", {"task_id": task_id, "task_status": TaskStatus.UNKNOWN.value})
    output = service.output(task, str(request.base_url))
    if output["task_status"] == TaskStatus.SUCCEEDED.value:
        return envelope(request, "output", output, usage={"total_tokens": task.tokens})
    return envelope(request, "output", output)


async def cancel_task(request: Request) -> Response:
    await _service(request).cancel_task(caller(request), request.path_params["task_id"])
    return envelope(request, None, None)


async def list_tasks(request: Request) -> Response:
    query = request.query_params
    page = parse_page(query)
    now = runtime(request).clock.now()
    start = parse_task_time(query["start_time"], "start_time") if query.get("start_time") else None
    end = parse_task_time(query["end_time"], "end_time") if query.get("end_time") else None
    if start is None and end is None:
        start, end = now - DAY, now
    elif start is None:
        assert end is not None
        start = end - DAY
    elif end is None:
        end = start + DAY
    if end - start > DAY:
        raise InvalidParameter("The time range between start_time and end_time should not exceed 24 hours.")
    service = _service(request)
    rows = await service.list_tasks(
        caller(request), start, end, query.get("model_name"), query.get("status"), query.get("task_id")
    )
    chosen = rows[page.offset : page.offset + page.page_size]
    body: dict[str, Any] = {
        "total": len(rows),
        "data": [service.list_item(r) for r in chosen],
        "total_page": (len(rows) + page.page_size - 1) // page.page_size,
        "page_no": page.page_no,
        "request_id": request_id(request),
        "page_size": page.page_size,
    }
    if request.headers.get("user-agent", "").startswith(V2_CLIENT):  # that client alone sees them: the rest the
        base = str(request.base_url)  # recorded shape, byte for byte
        body["tasks"] = [service.output(r, base) for r in chosen]
    return FastJSONResponse(body)


async def result(request: Request) -> Response:
    path = await _service(request).result_file(
        request.path_params["name"], request.query_params.get("Signature"), request.query_params.get("Expires")
    )
    if path is None:
        raise AccessDenied("Request has expired or its signature does not match.")
    return FileResponse(path, media_type="application/gzip")
