"""HTTP for native text generation: ``POST /api/v1/services/aigc/text-generation/generation``, JSON or SSE."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter
from emulator.generation.answer import incremental_output
from emulator.generation.renderers.native import native_body, native_chunks
from emulator.generation.replies import frames_of, generation_stream, native_error_frames, native_frames
from emulator.generation.requests import rule_noter, wants_sse
from emulator.generation.schemas import GenerationRequest, GenerationResponse, parse
from emulator.generation.service import Ask, check_messages, check_sampling, history_messages
from emulator.http import envelope, read_json_object, request_id
from emulator.openapi import Operation
from emulator.services import services


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
    sampling = check_sampling(params, "parameters.")
    as_message = params.result_format == "message"
    if sampling.n > 1 and not as_message:
        raise InvalidParameter("n > 1 needs parameters.result_format 'message'.", param="parameters.n")
    rid, stream = request_id(request), wants_sse(request)
    ask = Ask(caller(request), rid, req.model, _messages(req), sampling, params, stream, on_rule=rule_noter(request))
    answer = await services(request).generation.answer(ask)
    if not stream:
        return envelope(request, None, None, **native_body(answer, as_message=as_message))
    incremental = incremental_output(answer, params.incremental_output, thinking_default=False)
    chunks = native_chunks(answer, as_message=as_message, incremental=incremental)
    return generation_stream(request, frames_of(native_frames(chunks, rid)), native_error_frames(rid))


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
        endpoint=generate,
    ),
]
