"""Scripted replies in each protocol's shape, and the stream faults every generation stream goes through.

``script`` is the one question a generation endpoint asks before it generates text: is there a scripted reply
for this request?  A response rule's answer (``rules.responses``), else a call of the function a forced
``tool_choice`` names (arguments from its JSON schema, ``synth.toolargs``), else None: the endpoint keeps its
deterministic text.  A rule's error is raised from here, before any byte is sent.

The renderers turn a ``Scripted`` into native ``output`` (``result_format`` message or text; tool calls always
in the message shape, as the service needs ``message`` for tools), native SSE chunks (incremental or
cumulative), an OpenAI ``chat.completion`` and its ``chat.completion.chunk`` deltas (tool-call argument deltas,
a final usage chunk when asked).  ``faulted_stream`` applies a stream-only fault rule to any stream's frames.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator.context import caller, context
from emulator.errors import ApiError, InvalidParameter, render_openai_error
from emulator.generation.schemas import SamplingFields
from emulator.rules.fault_schemas import FaultRule
from emulator.rules.faults import drop_connection, fault_error
from emulator.rules.responses import ChatView, Scripted, ToolCall, call_id
from emulator.sse import encode_json, stream_response
from emulator.synth.text import MESSAGE_OVERHEAD_TOKENS
from emulator.synth.tokens import count_tokens, is_chinese
from emulator.synth.toolargs import tool_arguments

UNFINISHED = "null"
_WORDS_RE = re.compile(r"\S+\s*|\s+")
DONE = b"data: [DONE]\n\n"
ARGUMENT_PIECE = 12
"""Characters of a tool call's JSON arguments per streamed chunk."""


T = TypeVar("T")

# --------------------------------------------------------------------------------------------- the hook


def content_text(content: object) -> str:
    """A string, or the text parts of a DashScope (``{"text": ..}``) or OpenAI (``{"type": "text", ..}``) list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, list | tuple):
        return "\n".join(t for t in (content_text(part) for part in content) if t)
    return ""


def chat_view(
    request: Request,
    *,
    model: str,
    base_model: str | None,
    context_window: int,
    messages: Sequence[Mapping[str, Any]],
    fields: SamplingFields,
    stream: bool,
) -> ChatView:
    """The protocol-neutral view of a generation request (native text, multimodal, OpenAI-compatible).

    A prompt past the model's context window is refused here, before any response rule looks at it (a rule's regex
    costs time in the prompt's length: only prompts the model could take reach it).
    """
    if input_tokens(messages) > context_window:
        raise InvalidParameter(f"Range of input length should be [1, {context_window}]", param="messages")
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    last_role = messages[-1].get("role") if messages else None
    return ChatView(
        model=model,
        base_model=base_model,
        tenant_id=caller(request).id,
        last_user_text=content_text(last_user.get("content")) if last_user is not None else "",
        tools=tuple(t for t in fields.tools or () if isinstance(t, dict)),
        tool_choice=fields.tool_choice,
        after_tool_result=last_role in ("tool", "function"),
        stream=stream,
    )


def script(request: Request, view: ChatView) -> Scripted | None:
    """A rule's reply (its error raised), a forced tool call, or None for the deterministic text."""
    rt = request.app.state.rt
    rid: str = context(request).request_id
    scripted: Scripted | None = rt.responses.answer(view, rid, context(request))
    if scripted is not None:
        if scripted.error is not None:
            raise scripted.error
        return scripted
    function = view.forced_tool()
    if function is None and view.tool_choice == "required" and view.tools:
        function = view.tools[0].get("function")
    if not isinstance(function, dict):
        return None
    name = str(function.get("name"))
    arguments = tool_arguments(name, function.get("parameters"), rt.ids.content_seed("tool", view.last_user_text))
    return Scripted(tool_calls=(ToolCall(call_id(rid, 0), name, arguments),), finish_reason="tool_calls")


def input_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Counted as ``synth.text`` counts a generated reply's input: text tokens plus the chat template's overhead."""
    return sum(count_tokens(content_text(m.get("content"))) + MESSAGE_OVERHEAD_TOKENS for m in messages)


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def usage_of(scripted: Scripted, messages: Iterable[Mapping[str, Any]]) -> Usage:
    counted = count_tokens((scripted.reasoning_content or "") + (scripted.content or "")) + sum(
        count_tokens(c.name + arguments_json(c)) for c in scripted.tool_calls
    )
    return Usage(
        scripted.input_tokens if scripted.input_tokens is not None else input_tokens(messages),
        scripted.output_tokens if scripted.output_tokens is not None else counted,
    )


def arguments_json(call: ToolCall) -> str:
    return json.dumps(call.arguments, ensure_ascii=False, separators=(", ", ": "))


def tool_call_objects(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_json(c)}}
        for i, c in enumerate(calls)
    ]


def split_text(text: str) -> list[str]:
    """Streamed pieces: 3 characters of Chinese, or 2 words with their spaces, a piece."""
    if not text:
        return []
    if is_chinese(text):
        return [text[i : i + 3] for i in range(0, len(text), 3)]
    words = _WORDS_RE.findall(text)
    return ["".join(words[i : i + 2]) for i in range(0, len(words), 2)]


# --------------------------------------------------------------------------------------------- deltas


@dataclass(frozen=True)
class Delta:
    """One streamed step: reasoning text, content text, or a tool call's start (name) / arguments piece."""

    kind: str  # "reasoning" | "content" | "call" | "arguments"
    text: str = ""
    call: int = 0


def deltas(scripted: Scripted) -> list[Delta]:
    out = [Delta("reasoning", p) for p in split_text(scripted.reasoning_content or "")]
    out += [Delta("content", p) for p in split_text(scripted.content or "")]
    for i, call in enumerate(scripted.tool_calls):
        out.append(Delta("call", call=i))
        arguments = arguments_json(call)
        out += [
            Delta("arguments", arguments[k : k + ARGUMENT_PIECE], i) for k in range(0, len(arguments), ARGUMENT_PIECE)
        ]
    return out


# --------------------------------------------------------------------------------------------- native


def native_message(scripted: Scripted) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": scripted.content or ""}
    if scripted.reasoning_content is not None:
        message["reasoning_content"] = scripted.reasoning_content
    if scripted.tool_calls:
        message["tool_calls"] = tool_call_objects(scripted.tool_calls)
    return message


def native_scripted_output(scripted: Scripted, message_format: bool) -> dict[str, Any]:
    if message_format or scripted.tool_calls:
        return {"choices": [{"finish_reason": scripted.finish_reason, "message": native_message(scripted)}]}
    return {"finish_reason": scripted.finish_reason, "text": scripted.content or ""}


def native_usage(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def interleave(plans: list[Iterator[T]]) -> Iterator[tuple[int, T]]:
    """(choice index, step) with the choices taking turns, each until its own steps run out."""
    active = list(enumerate(plans))
    while active:
        still = []
        for index, plan in active:
            for step in plan:
                yield index, step
                still.append((index, plan))
                break
        active = still


def native_scripted_chunks(
    scripted: Scripted, usage: Usage, *, message_format: bool, incremental: bool
) -> Iterator[dict[str, Any]]:
    """Chunk payloads: each delta (incremental) or everything so far (cumulative); output tokens grow to the total;
    incremental streams end with an empty chunk that carries the finish reason, as the service's do.  Made as the
    stream is read: a cumulative stream holds the message so far once, not once per chunk (O(L), not O(L²))."""
    steps = deltas(scripted)
    so_far = _Accumulator(scripted)
    for number, delta in enumerate(steps, 1):
        so_far.add(delta)
        last = number == len(steps) and not incremental
        tokens = usage.output_tokens * number // max(len(steps), 1)
        message = so_far.delta_message(delta) if incremental else so_far.message()
        finish = scripted.finish_reason if last else UNFINISHED
        yield _native_chunk(message, finish, message_format or bool(scripted.tool_calls), usage, tokens)
    if incremental or not steps:
        empty = {"role": "assistant", "content": ""} if incremental else so_far.message()
        yield _native_chunk(empty, scripted.finish_reason, message_format or bool(scripted.tool_calls), usage, None)


def _native_chunk(
    message: dict[str, Any], finish: str, message_format: bool, usage: Usage, output_tokens: int | None
) -> dict[str, Any]:
    tokens = usage.output_tokens if output_tokens is None else output_tokens
    if message_format:
        output: dict[str, Any] = {"choices": [{"finish_reason": finish, "message": message}]}
    else:
        output = {"finish_reason": finish, "text": message.get("content", "")}
    return {"output": output, "usage": native_usage(Usage(usage.input_tokens, tokens))}


class _Accumulator:
    """The message so far (cumulative mode), and each delta's own message (incremental mode)."""

    def __init__(self, scripted: Scripted) -> None:
        self.scripted = scripted
        self.reasoning = ""
        self.content = ""
        self.arguments: list[str] = []

    def add(self, delta: Delta) -> None:
        if delta.kind == "reasoning":
            self.reasoning += delta.text
        elif delta.kind == "content":
            self.content += delta.text
        elif delta.kind == "call":
            self.arguments.append("")
        else:
            self.arguments[delta.call] += delta.text

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.scripted.reasoning_content is not None:
            message["reasoning_content"] = self.reasoning
        if self.arguments:
            message["tool_calls"] = [
                {"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": a}}
                for i, (c, a) in enumerate(zip(self.scripted.tool_calls, self.arguments, strict=False))
            ]
        return message

    def delta_message(self, delta: Delta) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": delta.text if delta.kind == "content" else ""}
        if self.scripted.reasoning_content is not None:
            message["reasoning_content"] = delta.text if delta.kind == "reasoning" else ""
        if delta.kind == "call":
            call = self.scripted.tool_calls[delta.call]
            function = {"name": call.name, "arguments": ""}
            message["tool_calls"] = [{"index": delta.call, "id": call.id, "type": "function", "function": function}]
        elif delta.kind == "arguments":
            function = {"arguments": delta.text}
            message["tool_calls"] = [{"index": delta.call, "id": "", "type": "function", "function": function}]
        return message


def native_error_frame(error: ApiError, request_id: str, event_id: int) -> bytes:
    """The service's error after the headers: ``event:error`` and ``:HTTP_STATUS/<status>`` (reference §6.3)."""
    return encode_json(error.body(request_id), event="error", event_id=event_id, comment=f"HTTP_STATUS/{error.status}")


# --------------------------------------------------------------------------------------------- OpenAI-compatible


def openai_usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def openai_scripted_completion(scripted: Scripted, usage: Usage, head: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": scripted.content or ""}
    if scripted.reasoning_content is not None:
        message["reasoning_content"] = scripted.reasoning_content
    if scripted.tool_calls:
        message["tool_calls"] = tool_call_objects(scripted.tool_calls)
    choice = {"index": 0, "message": message, "finish_reason": scripted.finish_reason, "logprobs": None}
    return {
        **head,
        "object": "chat.completion",
        "choices": [choice],
        "usage": openai_usage(usage),
        "system_fingerprint": None,
    }


def openai_scripted_chunks(
    scripted: Scripted, usage: Usage, head: dict[str, Any], include_usage: bool
) -> list[dict[str, Any]]:
    """A role chunk, a delta per step (a tool call's first delta names it, the next ones carry argument pieces),
    a finish chunk; then the usage chunk (``choices: []``) when ``stream_options.include_usage`` asked for it."""
    base: dict[str, Any] = {**head, "object": "chat.completion.chunk", "system_fingerprint": None}
    if include_usage:
        base["usage"] = None
    bodies: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    bodies += [_openai_delta(scripted, d) for d in deltas(scripted)]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None, "logprobs": None}]} for d in bodies]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": scripted.finish_reason}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": openai_usage(usage)})
    return chunks


def _openai_delta(scripted: Scripted, delta: Delta) -> dict[str, Any]:
    if delta.kind == "reasoning":
        return {"content": None, "reasoning_content": delta.text}
    if delta.kind == "content":
        return {"content": delta.text}
    call = scripted.tool_calls[delta.call]
    if delta.kind == "call":
        function = {"name": call.name, "arguments": ""}
        return {
            "content": None,
            "tool_calls": [{"index": delta.call, "id": call.id, "type": "function", "function": function}],
        }
    return {"content": None, "tool_calls": [{"index": delta.call, "function": {"arguments": delta.text}}]}


def openai_error_frame(error: ApiError, request_id: str) -> bytes:
    """An error inside an OpenAI stream: a ``data:`` event whose object has ``error`` (the openai package raises)."""
    return b"data: " + json.dumps(render_openai_error(error, request_id), ensure_ascii=False).encode() + b"\n\n"


# --------------------------------------------------------------------------------------------- stream faults


ErrorFrame = Callable[[ApiError, int], bytes]
"""Renders a fault's error as the protocol's stream error frame, given the number of chunks already sent."""


def generation_stream(
    request: Request, frames: AsyncIterator[bytes], error_frame: ErrorFrame, tail: bytes = b""
) -> StreamingResponse:
    """An SSE response of ``frames`` (then ``tail``, OpenAI's ``[DONE]``), through a stream fault if one hit."""
    fault = context(request).stream_fault
    if fault is None:
        return stream_response(_with_tail(frames, tail))
    return stream_response(faulted_stream(request, frames, fault, error_frame, tail))


async def _with_tail(frames: AsyncIterator[bytes], tail: bytes) -> AsyncIterator[bytes]:
    async for frame in frames:
        yield frame
    if tail:
        yield tail


async def faulted_stream(
    request: Request, frames: AsyncIterator[bytes], spec: FaultRule, error_frame: ErrorFrame, tail: bytes
) -> AsyncIterator[bytes]:
    """Delays are wall time (a client's time to first token and read timeouts are wall clocks).  An error or a drop
    comes after ``N`` chunks, or after the last chunk when the stream is shorter: a rule that hit always acts."""
    if spec.first_chunk_delay_ms:
        await asyncio.sleep(spec.first_chunk_delay_ms / 1000)
    sent = 0
    async for frame in frames:
        if _cut_here(spec.after_chunks, sent) or _cut_here(spec.drop_after_chunks, sent):
            break
        if sent and spec.chunk_delay_ms:
            await asyncio.sleep(spec.chunk_delay_ms / 1000)
        yield frame
        sent += 1
    if spec.after_chunks is not None:
        yield error_frame(fault_error(spec), sent)
        return
    if spec.drop_after_chunks is not None:
        await drop_connection(request.scope)
        return
    if tail:
        yield tail


def _cut_here(limit: int | None, sent: int) -> bool:
    return limit is not None and sent >= limit


async def frames_of(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for frame in chunks:
        yield frame
        await asyncio.sleep(0)  # let other requests in between chunks; never a real wait


# --------------------------------------------------------------------------------------------- whole answers


def native_scripted_response(
    request: Request,
    scripted: Scripted,
    messages: Sequence[Mapping[str, Any]],
    *,
    message_format: bool,
    incremental: bool,
    stream: bool,
    multimodal: bool = False,
) -> Response:
    """The native answer; ``multimodal`` (the multimodal-generation endpoint) gives ``content`` as a list of
    ``{"text": ..}`` parts (``[]`` when empty), always in the message format, as that endpoint answers."""
    rid: str = context(request).request_id
    usage = usage_of(scripted, messages)
    message_format = message_format or multimodal
    if not stream:
        output = native_scripted_output(scripted, message_format)
        body = {"request_id": rid, "output": _as_parts(output) if multimodal else output, "usage": native_usage(usage)}
        return JSONResponse(body)
    chunks = native_scripted_chunks(scripted, usage, message_format=message_format, incremental=incremental)
    if multimodal:
        chunks = ({**chunk, "output": _as_parts(chunk["output"])} for chunk in chunks)
    frames = (
        encode_json({**chunk, "request_id": rid}, event="result", event_id=n, comment="HTTP_STATUS/200")
        for n, chunk in enumerate(chunks, 1)
    )
    return generation_stream(request, frames_of(frames), native_error_frames(rid))


def _as_parts(output: dict[str, Any]) -> dict[str, Any]:
    choices = [
        {**c, "message": {**c["message"], "content": [{"text": t}] if (t := c["message"]["content"]) else []}}
        for c in output.get("choices", [])
    ]
    return {**output, "choices": choices}


def native_error_frames(request_id: str) -> ErrorFrame:
    return lambda error, sent: native_error_frame(error, request_id, sent + 1)


def openai_scripted_response(
    request: Request,
    scripted: Scripted,
    messages: Sequence[Mapping[str, Any]],
    head: dict[str, Any],
    *,
    stream: bool,
    include_usage: bool,
) -> Response:
    usage = usage_of(scripted, messages)
    if not stream:
        return JSONResponse(openai_scripted_completion(scripted, usage, head))
    chunks = openai_scripted_chunks(scripted, usage, head, include_usage)
    return generation_stream(request, frames_of(openai_frame(c) for c in chunks), openai_error_frames(request), DONE)


def openai_frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def openai_error_frames(request: Request) -> ErrorFrame:
    rid: str = context(request).request_id
    return lambda error, sent: openai_error_frame(error, rid)
