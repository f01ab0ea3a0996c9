"""HTTP for /compatible-mode/v1/batches: create, retrieve, list, cancel, in OpenAI's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.batches.service import BatchesService
from emulator.batches.store import BatchRow
from emulator.batches.wire import batch_dict
from emulator.clock import BEIJING
from emulator.context import caller
from emulator.errors import InvalidParameter
from emulator.http import FastJSONResponse, read_json_object
from emulator.pagination import cursor_limit
from emulator.runtime import runtime
from emulator.services import services


def _service(request: Request) -> BatchesService:
    return services(request).batches


def _answer(request: Request, row: BatchRow) -> dict[str, Any]:
    return batch_dict(row, _service(request).status(row), runtime(request).clock.now())


async def create_batch(request: Request) -> Response:
    body = await read_json_object(request)
    row = await _service(request).create_batch(caller(request), body)
    return FastJSONResponse(_answer(request, row))


async def retrieve_batch(request: Request) -> Response:
    row = await _service(request).get_batch(caller(request), request.path_params["batch_id"])
    return FastJSONResponse(_answer(request, row))


async def cancel_batch(request: Request) -> Response:
    row = await _service(request).cancel_batch(caller(request), request.path_params["batch_id"])
    return FastJSONResponse(_answer(request, row))


def _stamp(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise InvalidParameter(f"{name} must be yyyyMMddHHmmss (got {text!r}).", param=name) from None


async def list_batches(request: Request) -> Response:
    query = request.query_params
    limit = cursor_limit(query)
    name = query.get("ds_name")
    files = {f for f in (query.get("input_file_ids") or "").split(",") if f}
    if len(files) > 20:
        raise InvalidParameter("input_file_ids takes at most 20 ids.", param="input_file_ids")
    statuses = {s for s in (query.get("status") or "").split(",") if s}
    after_t, before_t = (
        _stamp(query.get("create_after"), "create_after"),
        _stamp(query.get("create_before"), "create_before"),
    )
    service = _service(request)

    def keep(row: BatchRow) -> bool:
        return (
            (not name or name in str((row.metadata or {}).get("ds_name", "")))
            and (not files or row.input_file_id in files)
            and (not statuses or service.status(row).value in statuses)
            and (after_t is None or row.created_at >= after_t)
            and (before_t is None or row.created_at <= before_t)
        )

    rows, more = await service.list_batches(caller(request), query.get("after"), limit, keep)
    data = [_answer(request, r) for r in rows]
    page = {
        "object": "list",
        "data": data or None,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }
    return FastJSONResponse(page)
