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

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.db import Tx
from emulator.errors import ApiError, InvalidParameter, ModelNotExist
from emulator.generation import responses_store as store
from emulator.generation.answer import Answer, content_text
from emulator.generation.renderers.responses import ResponseHead, failed_body, responses_body, responses_events
from emulator.generation.replies import frames_of, generation_stream
from emulator.generation.requests import rule_noter
from emulator.generation.schemas import SamplingFields
from emulator.generation.service import Ask, GenerationService, check_sampling
from emulator.http import FastJSONResponse, read_json_object, request_id
from emulator.openapi import Operation, path_param
from emulator.runtime import Runtime, runtime
from emulator.sse import encode_json
from emulator.tenants import Tenant

PATH = "/compatible-mode/v1/responses"
LEGACY_PATH = "/api/v2/apps/protocols/compatible-mode/v1/responses"
RETENTION_SECONDS = 7 * 86400
MIN_OUTPUT_TOKENS = 16
MAX_ITEMS_PAGE = 100
_ROLES = ("system", "developer", "user", "assistant")


def _missing(name: str) -> InvalidParameter:
    return InvalidParameter(f"[400] missing_required_parameter: Missing required parameter: '{name}'.")


@dataclass
class Turn:
    """A checked request: the chat messages the model sees, this turn's input items (with ids), the echo."""

    model: str
    messages: list[dict[str, Any]]
    items: list[dict[str, Any]]
    fields: SamplingFields
    echo: dict[str, Any]
    store: bool
    stream: bool


class ResponsesService:
    def __init__(self, rt: Runtime, generation: GenerationService) -> None:
        self.rt = rt
        self.generation = generation

    def _since(self) -> float:
        return self.rt.clock.now() - RETENTION_SECONDS

    async def find(self, tenant: Tenant, response_id: str) -> store.StoredResponse | None:
        return await store.find(self.rt.db, tenant.id, response_id, self._since())

    async def turn(self, tenant: Tenant, rid: str, body: dict[str, Any]) -> Turn:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _missing("model")
        given = body.get("input")
        if given is None or given == "" or given == []:
            raise _missing("input")
        if body.get("previous_response_id") and body.get("conversation"):
            raise InvalidParameter(
                "Mutually exclusive parameters: Ensure you are only providing one of: previous_response_id or "
                "conversation."
            )
        limit = body.get("max_output_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit < MIN_OUTPUT_TOKENS:
            raise InvalidParameter(
                f"Invalid 'max_output_tokens': must be greater than or equal to {MIN_OUTPUT_TOKENS}, got {limit}."
            )
        history: list[dict[str, Any]] = []
        previous = body.get("previous_response_id")
        if previous is not None:
            stored = await self.find(tenant, str(previous))
            if stored is None:
                raise InvalidParameter(f"Not found previous_response_id: {previous}")
            history = json.loads(stored.items) + json.loads(stored.body)["output"]
        items = _input_items(given, rid)
        instructions = body.get("instructions")
        messages = [{"role": "system", "content": instructions}] if isinstance(instructions, str) else []
        messages += items_to_messages(history + items)
        fields = SamplingFields.model_validate(
            {
                "temperature": body.get("temperature"),
                "top_p": body.get("top_p"),
                "max_tokens": limit,
                "tools": _tools(body.get("tools")),
                "tool_choice": _tool_choice(body.get("tool_choice")),
                "parallel_tool_calls": body.get("parallel_tool_calls"),
                "response_format": _text_format(body.get("text")),
                "enable_thinking": body.get("enable_thinking"),
                "seed": body.get("seed"),
            }
        )
        return Turn(
            model,
            messages,
            history + items,
            fields,
            _echo(body),
            body.get("store") is not False,
            body.get("stream") is True,
        )

    async def answer(self, tenant: Tenant, rid: str, turn: Turn, request: Request | None = None) -> Answer:
        sampling = check_sampling(turn.fields)
        on_rule = rule_noter(request) if request is not None else None
        ask = Ask(tenant, rid, turn.model, turn.messages, sampling, turn.fields, turn.stream, on_rule=on_rule)
        try:
            return await self.generation.answer(ask)
        except ModelNotExist:
            raise InvalidParameter(f"Unsupported model: '{turn.model}'") from None

    async def keep(self, tenant: Tenant, turn: Turn, body: dict[str, Any]) -> None:
        if not turn.store:
            return
        now = self.rt.clock.now()
        record = store.StoredResponse(
            body["id"],
            tenant.id,
            now,
            json.dumps(body, ensure_ascii=False),
            json.dumps(turn.items, ensure_ascii=False),
        )
        async with self.rt.db.transaction() as tx:
            await store.insert(tx, record, now - RETENTION_SECONDS)

    async def delete(self, tenant: Tenant, response_id: str) -> bool:
        async with self.rt.db.transaction() as tx:
            return await store.delete(tx, tenant.id, response_id, self._since())

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, None]:
        return await store.wipe(tx, tenant), None


# --------------------------------------------------------------------------------------------- request shapes


def _uuid(rid: str, kind: str, n: int) -> str:
    """A uuid derived from the request id: a seeded run repeats it."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"{rid}:{kind}:{n}".encode()).digest()[:16], version=4))


def _input_items(given: Any, rid: str) -> list[dict[str, Any]]:
    """This turn's input as items with ids (a string is one user message)."""
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    if not isinstance(given, list):
        raise InvalidParameter("input must be a string or a list of items.", param="input")
    items: list[dict[str, Any]] = []
    for n, item in enumerate(given):
        if not isinstance(item, dict):
            raise InvalidParameter(f"input[{n}] must be an object.", param="input")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise InvalidParameter(f"input[{n}].role must be one of {', '.join(_ROLES)}.", param="input")
            parts = _parts(item.get("content"), "output_text" if role == "assistant" else "input_text")
            item_id = item.get("id") or f"msg_{_uuid(rid, 'in', n)}"
            items.append({"id": item_id, "type": "message", "role": role, "status": "completed", "content": parts})
        elif kind == "function_call":
            if not isinstance(item.get("call_id"), str) or not isinstance(item.get("name"), str):
                raise InvalidParameter(f"input[{n}] (function_call) needs call_id and name.", param="input")
            arguments = item.get("arguments")
            items.append(
                {
                    "id": item.get("id") or f"fc_{_uuid(rid, 'in', n)}",
                    "type": "function_call",
                    "call_id": item["call_id"],
                    "name": item["name"],
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                    "status": "completed",
                }
            )
        elif kind == "function_call_output":
            output = item.get("output")
            items.append(
                {
                    "id": item.get("id") or f"fco_{_uuid(rid, 'in', n)}",
                    "type": "function_call_output",
                    "call_id": str(item.get("call_id")),
                    "output": output if isinstance(output, str) else json.dumps(output, ensure_ascii=False),
                    "status": "completed",
                }
            )
        # reasoning and hosted-tool items carry nothing the model re-reads: skipped
    return items


def _parts(content: Any, kind: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": kind, "text": content}]
    if not isinstance(content, list):
        return []
    return [{"type": kind, "text": text} for text in (content_text(p) for p in content) if text]


def items_to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages: function calls join the assistant turn they belong to; outputs are tool messages."""
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = "system" if item.get("role") == "developer" else item.get("role")
            messages.append({"role": role, "content": "\n".join(p.get("text", "") for p in item.get("content", []))})
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
    return messages


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    """Flat function tools as chat tools; hosted tools (web_search, mcp, ...) are accepted and not run."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise InvalidParameter("tools must be a list.", param="tools")
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        if "function" in tool or not isinstance(tool.get("name"), str):
            raise InvalidParameter(
                "<400> InternalError.Algo.InvalidParameter: The parameters, when provided as a dict, must confirm "
                "to a valid openai-compatible JSON schema."
            )
        function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        if choice.get("type") == "function" and isinstance(choice.get("name"), str):
            return {"type": "function", "function": {"name": choice["name"]}}
        if choice.get("type") == "allowed_tools":
            return "required" if choice.get("mode") == "required" else "auto"
        return "auto"
    return choice if choice in ("auto", "none", "required") else None


def _text_format(text: Any) -> dict[str, Any] | None:
    """``text.format`` as a chat ``response_format`` (the real service echoes it without honouring it; the
    emulator answers conforming JSON so typed agent outputs work: §4 Q7)."""
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        spec = {k: fmt[k] for k in ("name", "schema", "strict") if k in fmt}
        return {"type": "json_schema", "json_schema": spec}
    return {"type": fmt.get("type")}


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    """The request fields a response object repeats."""
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    text = body.get("text") if isinstance(body.get("text"), dict) else {"format": {"type": "text"}}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "parallel_tool_calls": body.get("parallel_tool_calls") is True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning"),
        "store": body.get("store") is not False,
        "temperature": body.get("temperature"),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools,
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation", "disabled"),
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
    }


# --------------------------------------------------------------------------------------------- HTTP


def _service(request: Request) -> ResponsesService:
    return runtime(request).services.responses


def _head(request: Request, rid: str, model: str, echo: dict[str, Any]) -> ResponseHead:
    ids = tuple(f"msg_{_uuid(rid, 'out', n)}" for n in range(18))
    return ResponseHead(f"resp_{_uuid(rid, 'resp', 0)}", int(runtime(request).clock.now()), model, ids, echo)


async def create(request: Request) -> Response:
    body = await read_json_object(request)
    rid, tenant, responses = request_id(request), request.state.tenant, _service(request)
    stream = body.get("stream") is True
    head = _head(request, rid, str(body.get("model") or ""), _echo(body))
    try:
        turn = await responses.turn(tenant, rid, body)
        answer = await responses.answer(tenant, rid, turn, request)
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
        "error": {"message": message, "type": "InvalidParameter"},
        "request_id": request_id(request),
        "code": "InvalidParameter",
        "message": message,
    }
    return JSONResponse(body, status_code=404)


async def retrieve(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    stored = await _service(request).find(request.state.tenant, response_id)
    if stored is None:
        return _not_found(request, response_id)
    return FastJSONResponse.raw(stored.body.encode())


async def delete(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    if not await _service(request).delete(request.state.tenant, response_id):
        return _not_found(request, response_id)
    return FastJSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})


async def input_items(request: Request) -> Response:
    response_id = request.path_params["response_id"]
    stored = await _service(request).find(request.state.tenant, response_id)
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
    if not given.isdigit() or not 1 <= int(given) <= MAX_ITEMS_PAGE:
        raise InvalidParameter(f"limit must be an integer in [1, {MAX_ITEMS_PAGE}].", param="limit")
    return int(given)


def _operations(prefix: str, legacy: bool) -> list[Operation]:
    note = " (legacy path, an alias)" if legacy else ""
    tag = "responses"
    item = (path_param("response_id"),)
    return [
        Operation(
            "POST",
            prefix,
            "Create a model response" + note,
            tag,
            envelope="raw",
            description="String or item `input`, `instructions`, function tools and their call/output items, "
            "`previous_response_id`, `store`; `stream: true` answers the documented event sequence "
            "(`response.created` ... `response.completed`).",
            endpoint=create,
            name=f"responses_create{'_legacy' if legacy else ''}",
        ),
        Operation(
            "GET",
            prefix + "/{response_id}/input_items",
            "A stored response's input items" + note,
            tag,
            envelope="raw",
            params=item,
            endpoint=input_items,
            name=f"responses_input_items{'_legacy' if legacy else ''}",
        ),
        Operation(
            "GET",
            prefix + "/{response_id}",
            "A stored response" + note,
            tag,
            envelope="raw",
            params=item,
            endpoint=retrieve,
            name=f"responses_get{'_legacy' if legacy else ''}",
        ),
        Operation(
            "DELETE",
            prefix + "/{response_id}",
            "Delete a stored response" + note,
            tag,
            envelope="raw",
            params=item,
            endpoint=delete,
            name=f"responses_delete{'_legacy' if legacy else ''}",
        ),
    ]


operations = _operations(PATH, False) + _operations(LEGACY_PATH, True)
