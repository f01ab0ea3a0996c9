"""HTTP for native multimodal generation: ``POST /api/v1/services/aigc/multimodal-generation/generation``.

The shapes are ``renderers.multimodal``'s (reference §1); the answer is the service's, as for every protocol.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel
from emulator.generation.answer import incremental_output
from emulator.generation.media import native_conversation
from emulator.generation.renderers.multimodal import multimodal_body, multimodal_chunks
from emulator.generation.replies import frames_of, generation_stream, native_error_frames, native_frames
from emulator.generation.requests import oss_resolver, rule_noter, wants_sse
from emulator.generation.schemas import MultimodalRequest, MultimodalResponse, parse
from emulator.generation.service import Ask, check_sampling
from emulator.http import envelope, read_json_object, request_id
from emulator.openapi import Operation
from emulator.services import services

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
    rid, stream = request_id(request), wants_sse(request)
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
        on_rule=rule_noter(request),
    )
    answer = await services(request).generation.answer(ask)
    if not stream:
        return envelope(request, None, None, **multimodal_body(answer))
    incremental = incremental_output(answer, params.incremental_output, thinking_default=True)
    chunks = multimodal_chunks(answer, incremental=incremental)
    return generation_stream(request, frames_of(native_frames(chunks, rid)), native_error_frames(rid))


operations = [
    Operation(
        "POST",
        PATH,
        "Chat with a vision model (JSON, or SSE on request)",
        "generation",
        endpoint=generate,
        request=MultimodalRequest,
        response=MultimodalResponse,
        envelope="raw",
        description="Images as `http(s)` URLs (never fetched; hosts such as `unreachable.example` or `*.invalid` "
        "fail to download), `data:` URIs, or `oss://` keys uploaded through `GET /api/v1/uploads` (send "
        "`X-DashScope-OssResourceResolve: enable`). SSE as for text generation; `incremental_output` picks "
        "deltas or the text so far.",
    ),
]
