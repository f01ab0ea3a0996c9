"""HTTP for native text generation: ``POST /api/v1/services/aigc/text-generation/generation``, JSON or SSE."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller, context
from emulator.errors import EmptyInput, InvalidParameter
from emulator.generation import extras
from emulator.generation.answer import incremental_output
from emulator.generation.media import URL_ERROR
from emulator.generation.renderers.native import native_body, native_chunks
from emulator.generation.replies import frames_of, generation_stream, native_error_frames, native_frames
from emulator.generation.requests import read_native_request, sse_errors, wants_sse
from emulator.generation.schemas import GenerationRequest, parse
from emulator.generation.service import Ask, check_messages, check_sampling, history_messages
from emulator.http import envelope, request_id
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


def wrong_endpoint(model: str, endpoints: tuple[str, ...]) -> InvalidParameter:
    """A model this endpoint does not serve (Qwen3.5/3.6, vision, audio and omni models): the service's
    wrong-endpoint 400 (recorded in issues: qwen-vl-max 2024-2025, qwen3.6-plus Apr 2026; the 2026 deep-thinking
    page says the same of Qwen3.5), with where the model answers instead."""
    where = " and ".join(
        {"multimodal-generation": "the multimodal endpoint", "compatible": "compatible mode"}[e] for e in endpoints
    )
    return InvalidParameter(
        f"{URL_ERROR} For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url"
        f" (model {model} is not served by the text-generation endpoint: call it on {where})"
    )


@sse_errors
async def generate(request: Request) -> Response:
    body = await read_native_request(request)
    req = parse(GenerationRequest, body)
    params = req.parameters
    raw: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
    cap = raw.get("max_completion_tokens")  # the newer name of max_tokens (recorded: deepseek-v4-pro)
    sampling = check_sampling(params, "parameters.", max_tokens=cap if type(cap) is int else None)
    gen, rid, stream = services(request).generation, request_id(request), wants_sse(request)
    target = await gen.resolve(caller(request), req.model)
    info = gen.catalog.get(target.base_model)
    if info is not None and "text-generation" not in info.endpoints:
        raise wrong_endpoint(req.model, info.endpoints)
    result_format = params.result_format or extras.default_result_format(info, target.thinking, params.enable_thinking)
    as_message = result_format == "message"
    if sampling.n > 1 and not as_message:
        raise InvalidParameter("n > 1 needs parameters.result_format 'message'.", param="parameters.n")
    messages = _messages(req)
    ask = Ask(caller(request), rid, req.model, messages, sampling, params, stream, ctx=context(request))
    answer = await gen.answer(ask)
    decorated = not answer.scripted and extras.wanted(raw, info)
    question = extras.last_user_text(messages) if decorated else ""
    if not stream:
        body = native_body(answer, as_message=as_message)
        if decorated:
            extras.decorate(body, raw, info, final=True, question=question)
        return envelope(request, None, None, **body)
    incremental = incremental_output(answer, params.incremental_output, thinking_default=False)
    chunks = native_chunks(answer, as_message=as_message, incremental=incremental)
    if decorated:
        chunks = extras.decorate_stream(chunks, raw, info, question)
    return generation_stream(request, frames_of(native_frames(chunks, rid)), native_error_frames(rid))
