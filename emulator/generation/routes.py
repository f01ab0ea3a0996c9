"""HTTP for native text generation: ``POST /api/v1/services/aigc/text-generation/generation``, JSON or SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter
from emulator.generation import extras
from emulator.generation.replies import (
    chat_view,
    generation_stream,
    interleave,
    native_error_frames,
    native_scripted_response,
    script,
)
from emulator.generation.requests import UNFINISHED, sse_errors, wants_sse
from emulator.generation.schemas import GenerationParameters, GenerationRequest, GenerationResponse, parse
from emulator.generation.service import (
    Completion,
    check_messages,
    check_sampling,
    history_messages,
)
from emulator.http import envelope, read_json_object, request_id
from emulator.openapi import Operation
from emulator.services import services
from emulator.sse import encode_json
from emulator.synth.text import Reply
from emulator.synth.tokens import count_tokens


def _messages(req: GenerationRequest) -> list[dict[str, Any]]:
    """``input.messages``; else the legacy ``input.prompt`` (what both CLIs send) after any ``input.history``."""
    given = req.input
    if given.messages is not None:
        messages = check_messages(given.messages, "input.messages")
        return messages + ([{"role": "user", "content": given.prompt}] if given.prompt else [])
    if not given.prompt:
        raise EmptyInput()
    return history_messages(given.history or [], "input.history") + [{"role": "user", "content": given.prompt}]


async def generate(request: Request) -> Response:
    body = await read_json_object(request)
    if body.get("model") in (None, ""):
        raise EmptyModel()
    if not isinstance(body.get("input"), dict) or not body["input"]:
        raise EmptyInput()
    req = parse(GenerationRequest, body)
    params = req.parameters
    raw: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
    cap = raw.get("max_completion_tokens")  # the newer name of max_tokens (recorded: deepseek-v4-pro)
    sampling = check_sampling(params, "parameters.", max_tokens=cap if type(cap) is int else None)
    gen, messages, stream = services(request).generation, _messages(req), wants_sse(request)
    target = await gen.resolve(caller(request), req.model)
    info = gen.catalog.get(target.base_model)
    message_format = (
        params.result_format or extras.default_result_format(info, target.thinking, params.enable_thinking)
    ) == "message"
    if sampling.n > 1 and not message_format:
        raise InvalidParameter("n > 1 needs parameters.result_format 'message'.", param="parameters.n")
    view = chat_view(
        request,
        model=req.model,
        base_model=target.base_model,
        context_window=target.context_window,
        messages=messages,
        fields=params,
        stream=stream,
    )
    scripted = script(request, view)
    if scripted is not None:
        incremental = bool(params.incremental_output)
        return native_scripted_response(
            request, scripted, messages, message_format=message_format, incremental=incremental, stream=stream
        )
    completion = gen.complete(target, messages, sampling, stream=stream)
    decorated = extras.wanted(raw, info)
    question = extras.last_user_text(messages) if decorated else ""
    if stream:
        rid = request_id(request)
        chunks = _stream_chunks(completion, params, message_format)
        if decorated:
            chunks = extras.decorate_stream(chunks, raw, info, question)
        return generation_stream(request, _events(chunks, rid), native_error_frames(rid))
    output = native_output(completion, message_format)
    usage = _usage(completion.input_tokens, completion.output_tokens, completion.reasoning_tokens, completion.thinks)
    if decorated:
        extras.decorate({"output": output, "usage": usage}, raw, info, final=True, question=question)
    return envelope(request, "output", output, usage=usage)


def _stream_chunks(
    completion: Completion, params: GenerationParameters, message_format: bool
) -> Iterator[dict[str, Any]]:
    if not completion.thinks:
        return native_chunks(completion, message_format=message_format, incremental=bool(params.incremental_output))
    if params.incremental_output is not True:
        raise InvalidParameter(
            'The incremental_output parameter must be "true" when enable_thinking is true',
            param="parameters.incremental_output",
        )
    return thinking_chunks(completion, message_format=message_format)


def _usage(input_tokens: int, output_tokens: int, reasoning: int = 0, thinks: bool = False) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    if thinks:
        usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _choice(text: str, finish_reason: str, index: int | None, reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    choice: dict[str, Any] = {"finish_reason": finish_reason, "message": message}
    if index is not None:
        choice["index"] = index
    return choice


def native_output(completion: Completion, message_format: bool) -> dict[str, Any]:
    if not message_format:
        reply = completion.replies[0]
        return {"finish_reason": reply.finish_reason, "text": reply.text}
    many = len(completion.replies) > 1
    thoughts = [r.text for r in completion.reasoning] if completion.thinks else [None] * len(completion.replies)
    return {
        "choices": [
            _choice(r.text, r.finish_reason, i if many else None, thoughts[i]) for i, r in enumerate(completion.replies)
        ]
    }


def thinking_chunks(completion: Completion, *, message_format: bool) -> Iterator[dict[str, Any]]:
    """Reference §5.2: reasoning pieces with ``content: ""``, then answer pieces with ``reasoning_content: ""``,
    then a closing chunk with both empty and the finish reason; ``reasoning_content`` is in every chunk."""
    many = len(completion.replies) > 1
    for index, (reply, thought) in enumerate(zip(completion.replies, completion.reasoning, strict=True)):
        steps: list[tuple[str, str, str, int, int]] = []
        so_far = ""
        for piece in thought.pieces:
            so_far += piece
            steps.append(("", piece, UNFINISHED, count_tokens(so_far), count_tokens(so_far)))
        spent = thought.output_tokens
        text = ""
        for piece in reply.pieces:
            text += piece
            steps.append((piece, "", UNFINISHED, spent + count_tokens(text), spent))
        steps.append(("", "", reply.finish_reason, spent + reply.output_tokens, spent))
        for content, reasoning, finish, output_tokens, reasoning_tokens in steps:
            usage = _usage(completion.input_tokens, output_tokens, reasoning_tokens, True)
            if message_format:
                output: dict[str, Any] = {"choices": [_choice(content, finish, index if many else None, reasoning)]}
            else:
                output = {"finish_reason": finish, "text": content}
            yield {"output": output, "usage": usage}


def _steps(reply: Reply, incremental: bool) -> Iterator[tuple[str, str, int]]:
    """(text, finish_reason, output tokens so far) per chunk: each piece, or the text so far; incremental streams
    end with an empty chunk that carries the finish reason, as the service does.  Made as the stream is read: a
    cumulative stream holds one text so far, not every one (O(L) memory, not O(L²))."""
    so_far = ""
    for i, piece in enumerate(reply.pieces):
        so_far += piece
        last = i == len(reply.pieces) - 1 and not incremental
        yield (piece if incremental else so_far, reply.finish_reason if last else UNFINISHED, count_tokens(so_far))
    if incremental or not reply.pieces:
        yield ("", reply.finish_reason, reply.output_tokens)


def native_chunks(completion: Completion, *, message_format: bool, incremental: bool) -> Iterator[dict[str, Any]]:
    """Chunk payloads in order; with n > 1 the choices take turns, one choice (with its index) per chunk."""
    many = len(completion.replies) > 1
    plans = [_steps(reply, incremental) for reply in completion.replies]
    for index, (text, finish, output_tokens) in interleave(plans):
        if message_format:
            output: dict[str, Any] = {"choices": [_choice(text, finish, index if many else None)]}
        else:
            output = {"finish_reason": finish, "text": text}
        yield {"output": output, "usage": _usage(completion.input_tokens, output_tokens)}


async def _events(chunks: Iterator[dict[str, Any]], rid: str) -> AsyncIterator[bytes]:
    for number, chunk in enumerate(chunks, 1):
        chunk["request_id"] = rid
        yield encode_json(chunk, event="result", event_id=number, comment="HTTP_STATUS/200")
        await asyncio.sleep(0)  # let other requests in between chunks; never a real wait


operations = [
    Operation(
        "POST",
        "/api/v1/services/aigc/text-generation/generation",
        "Generate text (JSON, or SSE on request)",
        "generation",
        request=GenerationRequest,
        response=GenerationResponse,
        envelope="raw",
        description="Server-Sent Events when `X-DashScope-SSE: enable` or `Accept: text/event-stream` is "
        "sent: `id:`, `event:result`, `:HTTP_STATUS/200`, `data:{...}` per chunk; "
        "`parameters.incremental_output` picks deltas or the text so far.",
        endpoint=sse_errors(generate),
    ),
]
