"""HTTP for native multimodal generation: ``POST /api/v1/services/aigc/multimodal-generation/generation``.

Reference §1: the answer's ``message.content`` is a list of ``{"text": ..}``; usage is the 2025 superset
(``input_tokens_details``/``output_tokens_details``/``prompt_tokens_details`` and the legacy ``image_tokens``).
Streams follow the 2025 recordings: incremental chunks end with ``"content": []`` and the finish reason;
cumulative chunks (``incremental_output`` false or absent) carry the whole text so far.  A thinking model streams
its ``reasoning_content`` first (``content: []``), and the key is absent once the answer starts (§5.2).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter
from emulator.generation import extras
from emulator.generation.media import native_conversation
from emulator.generation.replies import (
    chat_view,
    generation_stream,
    interleave,
    native_error_frames,
    native_scripted_response,
    script,
)
from emulator.generation.requests import UNFINISHED, oss_resolver, sse_errors, wants_sse
from emulator.generation.schemas import MultimodalRequest, MultimodalResponse, parse
from emulator.generation.service import Completion, check_sampling
from emulator.http import envelope, read_json_object, request_id
from emulator.openapi import Operation
from emulator.services import services
from emulator.sse import encode_json
from emulator.synth.text import Reply
from emulator.synth.tokens import count_tokens

PATH = "/api/v1/services/aigc/multimodal-generation/generation"


async def generate(request: Request) -> Response:
    body = await read_json_object(request)
    if body.get("model") in (None, ""):
        raise EmptyModel()
    if not isinstance(body.get("input"), dict) or not body["input"]:
        raise EmptyInput()
    req = parse(MultimodalRequest, body)
    params = req.parameters
    sampling = check_sampling(params, "parameters.")
    conversation = native_conversation(req.input.messages)
    gen, stream = services(request).generation, wants_sse(request)
    target = await gen.resolve(caller(request), req.model)
    messages = conversation.messages
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
        return native_scripted_response(
            request,
            scripted,
            messages,
            message_format=True,
            incremental=bool(params.incremental_output),
            stream=stream,
            multimodal=True,
        )
    completion = await gen.complete_multimodal(target, conversation, sampling, oss=oss_resolver(request), stream=stream)
    raw: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
    info = gen.catalog.get(target.base_model)
    decorated = extras.wanted(raw, info)
    question = extras.last_user_text(messages) if decorated else ""
    if not stream:
        output, usage = multimodal_output(completion), multimodal_usage(completion)
        if decorated:
            extras.decorate({"output": output, "usage": usage}, raw, info, final=True, question=question)
        return envelope(request, "output", output, usage=usage)
    incremental = params.incremental_output
    if completion.thinks and incremental is False:
        raise InvalidParameter(
            'The incremental_output parameter must be "true" when enable_thinking is true',
            param="parameters.incremental_output",
        )
    chunks = multimodal_chunks(completion, incremental=bool(incremental) or completion.thinks)
    if decorated:
        chunks = extras.decorate_stream(chunks, raw, info, question)
    rid = request_id(request)
    return generation_stream(request, _events(chunks, rid), native_error_frames(rid))


def multimodal_usage(
    completion: Completion, output_tokens: int | None = None, reasoning: int | None = None
) -> dict[str, Any]:
    output = completion.output_tokens if output_tokens is None else output_tokens
    reasoning = completion.reasoning_tokens if reasoning is None else reasoning
    media = {f"{kind}_tokens": tokens for kind, tokens in completion.media_tokens.items()}
    text_in = completion.input_tokens - sum(completion.media_tokens.values())
    output_details: dict[str, int] = {"text_tokens": output - reasoning}
    if completion.thinks:
        output_details["reasoning_tokens"] = reasoning
    return {
        "input_tokens": completion.input_tokens,
        "output_tokens": output,
        "total_tokens": completion.input_tokens + output,
        "input_tokens_details": {"text_tokens": text_in, **media},
        "output_tokens_details": output_details,
        "prompt_tokens_details": {"cached_tokens": 0},
        **media,
    }


def _message(text: str | None, reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": [{"text": text}] if text else []}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


def multimodal_output(completion: Completion) -> dict[str, Any]:
    many = len(completion.replies) > 1
    choices = []
    for index, reply in enumerate(completion.replies):
        thought = completion.reasoning[index].text if completion.thinks else None
        choice: dict[str, Any] = {"finish_reason": reply.finish_reason, "message": _message(reply.text, thought)}
        if many:
            choice["index"] = index
        choices.append(choice)
    return {"choices": choices}


def _plan(reply: Reply, thought: Reply | None, incremental: bool) -> Iterator[tuple[dict[str, Any], str, int, int]]:
    """(message, finish_reason, output tokens so far, reasoning tokens so far) per chunk of one choice, made as the
    stream is read (a cumulative stream holds one text so far at a time)."""
    reasoning_tokens = 0
    if thought is not None:
        so_far = ""
        for piece in thought.pieces:
            so_far += piece
            reasoning_tokens = count_tokens(so_far)
            yield (_message(None, piece), UNFINISHED, reasoning_tokens, reasoning_tokens)
        reasoning_tokens = thought.output_tokens
    text = ""
    for i, piece in enumerate(reply.pieces):
        text += piece
        # the last piece carries the finish reason, incremental or not (recorded: cnblogs multimodal-*-sse)
        last = i == len(reply.pieces) - 1
        tokens = reasoning_tokens + count_tokens(text)
        message = _message(piece if incremental else text)
        yield (message, reply.finish_reason if last else UNFINISHED, tokens, reasoning_tokens)
    if not reply.pieces:
        closing = _message(None) if incremental else _message(text)
        yield (closing, reply.finish_reason, reasoning_tokens + reply.output_tokens, reasoning_tokens)


def multimodal_chunks(completion: Completion, *, incremental: bool) -> Iterator[dict[str, Any]]:
    many = len(completion.replies) > 1
    plans = [
        _plan(reply, completion.reasoning[i] if completion.thinks else None, incremental)
        for i, reply in enumerate(completion.replies)
    ]
    for index, (message, finish, output_tokens, reasoning_tokens) in interleave(plans):
        choice: dict[str, Any] = {"message": message, "finish_reason": finish}
        if many:
            choice["index"] = index
        usage = multimodal_usage(completion, output_tokens, reasoning_tokens)
        yield {"output": {"choices": [choice]}, "usage": usage}


async def _events(chunks: Iterator[dict[str, Any]], rid: str) -> AsyncIterator[bytes]:
    for number, chunk in enumerate(chunks, 1):
        chunk["request_id"] = rid
        yield encode_json(chunk, event="result", event_id=number, comment="HTTP_STATUS/200")
        await asyncio.sleep(0)


operations = [
    Operation(
        "POST",
        PATH,
        "Chat with a vision model (JSON, or SSE on request)",
        "generation",
        endpoint=sse_errors(generate),
        request=MultimodalRequest,
        response=MultimodalResponse,
        envelope="raw",
        description="Images as `http(s)` URLs (never fetched; hosts such as `unreachable.example` or `*.invalid` "
        "fail to download), `data:` URIs, or `oss://` keys uploaded through `GET /api/v1/uploads` (send "
        "`X-DashScope-OssResourceResolve: enable`). SSE as for text generation; `incremental_output` picks "
        "deltas or the text so far.",
    ),
]
