"""The Responses API's domain half (reference 2026-apps §3): a request turned into chat messages and sampling
fields (``instructions``, the stored conversation of ``previous_response_id``, then ``input``), the generation
service's answer, and the stored responses (SQLite, per tenant, 7 emulated days).  HTTP is ``responses_handlers``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from emulator.clock import Clock
from emulator.context import RequestContext
from emulator.db import Database, Tx
from emulator.errors import InvalidParameter, ModelNotExist
from emulator.generation import responses_store as store
from emulator.generation.answer import Answer
from emulator.generation.schemas import SamplingFields
from emulator.generation.service import Ask, GenerationService, check_sampling
from emulator.synth.text import content_text
from emulator.tenants import Tenant

RETENTION_SECONDS = 7 * 86400
MIN_OUTPUT_TOKENS = 16
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
    def __init__(self, db: Database, clock: Clock, generation: GenerationService) -> None:
        self.db = db
        self.clock = clock
        self.generation = generation

    def _since(self) -> float:
        return self.clock.now() - RETENTION_SECONDS

    async def find(self, tenant: Tenant, response_id: str) -> store.StoredResponse | None:
        return await store.find(self.db, tenant.id, response_id, self._since())

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
            echo_fields(body),
            body.get("store") is not False,
            body.get("stream") is True,
        )

    async def answer(self, tenant: Tenant, rid: str, turn: Turn, ctx: RequestContext | None = None) -> Answer:
        sampling = check_sampling(turn.fields)
        ask = Ask(tenant, rid, turn.model, turn.messages, sampling, turn.fields, turn.stream, ctx=ctx)
        try:
            return await self.generation.answer(ask)
        except ModelNotExist:
            raise InvalidParameter(f"Unsupported model: '{turn.model}'") from None

    async def keep(self, tenant: Tenant, turn: Turn, body: dict[str, Any]) -> None:
        if not turn.store:
            return
        now = self.clock.now()
        record = store.StoredResponse(
            body["id"],
            tenant.id,
            now,
            json.dumps(body, ensure_ascii=False),
            json.dumps(turn.items, ensure_ascii=False),
        )
        async with self.db.transaction() as tx:
            await store.insert(tx, record, now - RETENTION_SECONDS)

    async def delete(self, tenant: Tenant, response_id: str) -> bool:
        async with self.db.transaction() as tx:
            return await store.delete(tx, tenant.id, response_id, self._since())

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, None]:
        return await store.wipe(tx, tenant), None


# --------------------------------------------------------------------------------------------- request shapes


def item_uuid(rid: str, kind: str, n: int) -> str:
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
            item_id = item.get("id") or f"msg_{item_uuid(rid, 'in', n)}"
            items.append({"id": item_id, "type": "message", "role": role, "status": "completed", "content": parts})
        elif kind == "function_call":
            if not isinstance(item.get("call_id"), str) or not isinstance(item.get("name"), str):
                raise InvalidParameter(f"input[{n}] (function_call) needs call_id and name.", param="input")
            arguments = item.get("arguments")
            items.append(
                {
                    "id": item.get("id") or f"fc_{item_uuid(rid, 'in', n)}",
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
                    "id": item.get("id") or f"fco_{item_uuid(rid, 'in', n)}",
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


def echo_fields(body: dict[str, Any]) -> dict[str, Any]:
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
