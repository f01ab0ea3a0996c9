"""The Responses API on compatible mode (reference 2026-apps §3): ``POST /compatible-mode/v1/responses``,
``GET``/``DELETE /responses/{id}``, ``GET /responses/{id}/input_items``, and the legacy
``/api/v2/apps/protocols/compatible-mode/v1/...`` paths (aliases).

A request becomes chat messages (``instructions`` first, then the stored conversation of
``previous_response_id``, then ``input``: messages, ``function_call`` and ``function_call_output`` items), asks
the generation service like every protocol (so response rules, the tool policy and structured output through
``text.format`` apply), and is rendered by ``renderers.responses``.  Stored answers (``store``, the default) live
7 emulated days in SQLite, per tenant.  Errors are DashScope's flat envelopes; with ``stream`` a refused request
is an HTTP 200 stream of one ``response.failed`` event (§4 Q10).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller, context
from emulator.errors import ApiError, InvalidParameter
from emulator.generation import RESPONSES_MAX_ITEMS_PAGE
from emulator.generation.renderers.responses import ResponseHead, failed_body, responses_body, responses_events
from emulator.generation.replies import frames_of, generation_stream
from emulator.generation.responses_service import ResponsesService, echo_fields, item_uuid
from emulator.http import FastJSONResponse, read_json_object, request_id
from emulator.services import services
from emulator.sse import encode_json

# --------------------------------------------------------------------------------------------- HTTP


def _service(request: Request) -> ResponsesService:
    return services(request).responses


def _head(request: Request, rid: str, model: str, echo: dict[str, Any]) -> ResponseHead:
    ids = tuple(f"msg_{item_uuid(rid, 'out', n)}" for n in range(18))
    created = int(_service(request).clock.now())
    return ResponseHead(f"resp_{item_uuid(rid, 'resp', 0)}", created, model, ids, echo)


async def create(request: Request) -> Response:
    body = await read_json_object(request)
    rid, tenant, responses = request_id(request), caller(request), _service(request)
    stream = body.get("stream") is True
    head = _head(request, rid, str(body.get("model") or ""), echo_fields(body))
    try:
        turn = await responses.turn(tenant, rid, body)
        answer = await responses.answer(tenant, rid, turn, context(request))
    except ApiError as error:
        if not stream:
            raise
        return generation_stream(request, frames_of(_failed_frames(head, error)), _error_frames(head))
    whole = responses_body(answer, head)
    await responses.keep(tenant, turn, whole)
    if not stream:
        return FastJSONResponse(whole)
    frames = (_frame(event, n) for n, event in enumerate(responses_events(answer, head), 1))
    return generation_stream(request, frames_of(frames), _error_frames(head))


def _frame(event: dict[str, Any], number: int) -> bytes:
    return encode_json(event, event=str(event["type"]), event_id=number, comment="HTTP_STATUS/200")


def _failed_frames(head: ResponseHead, error: ApiError) -> Iterator[bytes]:
    yield _frame({"type": "response.failed", "sequence_number": 0, "response": _failed(head, error)}, 1)


def _failed(head: ResponseHead, error: ApiError) -> dict[str, Any]:
    return failed_body(head, error.code, error.message)


def _error_frames(head: ResponseHead) -> Callable[[ApiError, int], bytes]:
    """A stream fault's error: one ``response.failed`` event after the chunks already sent."""

    def frame(error: ApiError, sent: int) -> bytes:
        event = {"type": "response.failed", "sequence_number": sent, "response": _failed(head, error)}
        return _frame(event, sent + 1)

    return frame


def _not_found(request: Request, response_id: str) -> JSONResponse:
    """The documented ``error`` object, plus the flat envelope's keys every other error has."""
    message = f"Response with id '{response_id}' not found."
    body = {
        "error": {"message": message, "type": "InvalidParameter", "code": "InvalidParameter"},
        "request_id": request_id(request),
        "code": "InvalidParameter",
        "message": message,
    }
    return JSONResponse(body, status_code=404)


async def retrieve(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    stored = await _service(request).find(caller(request), response_id)
    if stored is None:
        return _not_found(request, response_id)
    return FastJSONResponse.raw(stored.body.encode())


async def delete(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    if not await _service(request).delete(caller(request), response_id):
        return _not_found(request, response_id)
    return FastJSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})


async def input_items(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    stored = await _service(request).find(caller(request), response_id)
    if stored is None:
        return _not_found(request, response_id)
    items: list[dict[str, Any]] = json.loads(stored.items)
    query = request.query_params
    if query.get("order", "desc") == "desc":
        items.reverse()
    after = query.get("after")
    if after:
        at = next((i for i, item in enumerate(items) if item.get("id") == after), None)
        items = items[at + 1 :] if at is not None else []
    limit = _limit(query.get("limit"))
    page = items[:limit]
    response = json.loads(stored.body)
    return FastJSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
            "id": response_id,
            "model": response.get("model"),
            "created_at": int(stored.created_at * 1000),
            "previous_response_id": response.get("previous_response_id"),
        }
    )


def _limit(given: str | None) -> int:
    if given is None:
        return 20
    if not given.isdigit() or not 1 <= int(given) <= RESPONSES_MAX_ITEMS_PAGE:
        raise InvalidParameter(f"limit must be an integer in [1, {RESPONSES_MAX_ITEMS_PAGE}].", param="limit")
    return int(given)
