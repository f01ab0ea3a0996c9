"""HTTP for native multimodal generation: ``POST /api/v1/services/aigc/multimodal-generation/generation``.

The shapes are ``renderers.multimodal``'s (reference §1); the answer is the service's, as for every protocol.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller, context
from emulator.generation import extras
from emulator.generation.answer import incremental_output
from emulator.generation.media import native_conversation
from emulator.generation.renderers.multimodal import multimodal_body, multimodal_chunks
from emulator.generation.replies import frames_of, generation_stream, native_error_frames, native_frames
from emulator.generation.requests import oss_resolver, read_native_request, sse_errors, wants_sse
from emulator.generation.schemas import MultimodalRequest, parse
from emulator.generation.service import Ask, check_sampling
from emulator.http import envelope, request_id
from emulator.services import services


@sse_errors
async def generate(request: Request) -> Response:
    body = await read_native_request(request)
    req = parse(MultimodalRequest, body)
    params = req.parameters
    sampling = check_sampling(params, "parameters.")
    conversation = native_conversation(req.input.messages)
    gen, rid, stream = services(request).generation, request_id(request), wants_sse(request)
    ask = Ask(
        caller(request),
        rid,
        req.model,
        conversation.messages,
        sampling,
        params,
        stream,
        conversation=conversation,
        oss=oss_resolver(request),
        ctx=context(request),
    )
    answer = await gen.answer(ask)
    raw: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
    info = None
    if raw and not answer.scripted:  # a model's extras (OCR, translation) and plugins; a rule's answer is as written
        info = gen.catalog.get(req.model) or gen.catalog.get((await gen.resolve(caller(request), req.model)).base_model)
    decorated = not answer.scripted and extras.wanted(raw, info)
    question = extras.last_user_text(conversation.messages) if decorated else ""
    if not stream:
        out = multimodal_body(answer)
        if decorated:
            extras.decorate(out, raw, info, final=True, question=question)
        return envelope(request, None, None, **out)
    incremental = incremental_output(answer, params.incremental_output, thinking_default=True)
    chunks = multimodal_chunks(answer, incremental=incremental)
    if decorated:
        chunks = extras.decorate_stream(chunks, raw, info, question)
    return generation_stream(request, frames_of(native_frames(chunks, rid)), native_error_frames(rid))
