"""HTTP for the OpenAI-compatible mode: ``POST /compatible-mode/v1/chat/completions`` and ``GET .../models``.

Errors come out in OpenAI's shape by themselves (``http.error_response``); an unknown model is 404
``model_not_found`` here, where the native endpoint answers 400 "Model not exist.".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller
from emulator.deployments.states import DeploymentStatus
from emulator.errors import InvalidParameter, ModelNotExist, ModelNotFound
from emulator.generation.media import DOWNLOAD_FAILED, Conversation, openai_conversation
from emulator.generation.replies import (
    DONE,
    chat_view,
    generation_stream,
    openai_error_frames,
    openai_scripted_response,
    script,
)
from emulator.generation.requests import oss_resolver
from emulator.generation.schemas import ChatCompletion, ChatCompletionRequest, ModelCard, ModelList, parse
from emulator.generation.service import (
    Completion,
    Sampling,
    Target,
    check_messages,
    check_sampling,
)
from emulator.http import read_json_object, request_id
from emulator.openapi import Operation, path_param
from emulator.services import services

CATALOG_CREATED = 1704038400
"""2024-01-01T00:00:00+08:00: the ``created`` of every shared model in ``/models``."""


def _model_not_found(model: str) -> ModelNotFound:
    return ModelNotFound(f"The model `{model}` does not exist or you do not have access to it.", param="model")


async def chat_completions(request: Request) -> Response:
    body = await read_json_object(request)
    if body.get("model") in (None, ""):
        raise InvalidParameter("you must provide a model parameter", param="model")
    req = parse(ChatCompletionRequest, body)
    if req.frequency_penalty is not None and not -2 <= req.frequency_penalty <= 2:
        raise InvalidParameter("Range of frequency_penalty should be [-2.0, 2.0]", param="frequency_penalty")
    sampling = check_sampling(req, max_tokens=req.max_completion_tokens or req.max_tokens)
    messages = check_messages(req.messages, "messages")
    conversation = openai_conversation(body["messages"]) if _has_media(req) else None
    gen = services(request).generation
    try:
        target = await gen.resolve(caller(request), req.model)
    except ModelNotExist:
        raise _model_not_found(req.model) from None
    head = {
        "id": f"chatcmpl-{request_id(request)}",
        "created": int(request.app.state.rt.clock.now()),
        "model": req.model,
    }
    stream = bool(req.stream)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    view = chat_view(
        request,
        model=req.model,
        base_model=target.base_model,
        context_window=target.context_window,
        messages=messages,
        fields=req,
        stream=stream,
    )
    scripted = script(request, view)
    if scripted is not None:
        return openai_scripted_response(request, scripted, messages, head, stream=stream, include_usage=include_usage)
    completion = await _answer(request, target, messages, conversation, sampling, stream)
    if stream:
        frames = _events(openai_chunks(completion, head, include_usage))
        return generation_stream(request, frames, openai_error_frames(request), DONE)
    return JSONResponse(openai_completion(completion, head))


async def _answer(
    request: Request,
    target: Target,
    messages: list[dict[str, Any]],
    conversation: Conversation | None,
    sampling: Sampling,
    stream: bool,
) -> Completion:
    """The deterministic answer (when no rule scripted one): the text path, or the multimodal one for media parts."""
    gen = services(request).generation
    if conversation is None:
        return gen.complete(target, messages, sampling, stream=stream)
    try:
        return await gen.complete_multimodal(
            target, conversation, sampling, oss=oss_resolver(request), stream=stream, openai=True
        )
    except InvalidParameter as exc:
        if exc.message == DOWNLOAD_FAILED:  # how the compatible mode words it (reference §1.8)
            raise InvalidParameter(f"<400> InternalError.Algo.InvalidParameter: {DOWNLOAD_FAILED}") from None
        raise


def _has_media(req: ChatCompletionRequest) -> bool:
    return any(
        isinstance(m.content, list) and any(part.get("type", "text") != "text" for part in m.content)
        for m in req.messages
    )


def _usage(completion: Completion) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": completion.input_tokens,
        "completion_tokens": completion.output_tokens,
        "total_tokens": completion.input_tokens + completion.output_tokens,
    }
    if completion.thinks:
        usage["completion_tokens_details"] = {"reasoning_tokens": completion.reasoning_tokens}
    return usage


def _message(completion: Completion, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.replies[index].text}
    if completion.thinks:
        message["reasoning_content"] = completion.reasoning[index].text
    return message


def openai_completion(completion: Completion, head: dict[str, Any]) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": _message(completion, i),
            "finish_reason": r.finish_reason,
            "logprobs": None,
        }
        for i, r in enumerate(completion.replies)
    ]
    return {
        **head,
        "object": "chat.completion",
        "choices": choices,
        "usage": _usage(completion),
        "system_fingerprint": None,
    }


def openai_chunks(completion: Completion, head: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
    """A role chunk, one chunk per piece, a finish chunk, per choice (choices take turns); then the usage chunk
    (``choices: []``) when ``stream_options.include_usage`` asked for it."""
    plans = [_deltas(completion, i) for i in range(len(completion.replies))]
    base = {**head, "object": "chat.completion.chunk", "system_fingerprint": None}
    if include_usage:
        base["usage"] = None
    for step in range(max(len(p) for p in plans)):
        for index, plan in enumerate(plans):
            if step < len(plan):
                delta = plan[step]
                finish = completion.replies[index].finish_reason if delta is None else None
                choice = {"index": index, "delta": delta or {}, "finish_reason": finish, "logprobs": None}
                yield {**base, "choices": [choice]}
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(completion)}


def _deltas(completion: Completion, index: int) -> list[dict[str, Any] | None]:
    """One choice's deltas; None marks the finish chunk.  Thinking (reference §5.3): ``reasoning_content`` pieces
    with ``content: null`` first, then the answer with ``reasoning_content: null``."""
    reply = completion.replies[index]
    if not completion.thinks:
        return [{"role": "assistant", "content": ""}, *({"content": p} for p in reply.pieces), None]
    thought = completion.reasoning[index]
    return [
        {"content": None, "role": "assistant", "reasoning_content": ""},
        *({"content": None, "reasoning_content": p} for p in thought.pieces),
        *({"content": p, "reasoning_content": None} for p in reply.pieces),
        None,
    ]


async def _events(chunks: Iterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
        await asyncio.sleep(0)


async def list_models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": await _model_cards(request)})


async def get_model(request: Request) -> JSONResponse:
    model = request.path_params["model"]
    for card in await _model_cards(request):
        if card["id"] == model:
            return JSONResponse(card)
    raise _model_not_found(model)


async def _model_cards(request: Request) -> list[dict[str, Any]]:
    found = services(request)
    cards = [
        {"id": m.id, "object": "model", "created": CATALOG_CREATED, "owned_by": "system"}
        for m in found.generation.catalog.models()
    ]
    _, rows = await found.deployments.list_deployments(caller(request), 0, 1 << 30)
    cards += [
        {"id": r.deployed_model, "object": "model", "created": int(r.schedule.created_at), "owned_by": "user"}
        for r in rows
        if r.status is DeploymentStatus.RUNNING
    ]
    return cards


operations = [
    Operation(
        "POST",
        "/compatible-mode/v1/chat/completions",
        "OpenAI-compatible chat completion",
        "openai-compatible",
        request=ChatCompletionRequest,
        response=ChatCompletion,
        envelope="raw",
        openai=True,
        description='`"stream": true` answers `chat.completion.chunk` events ending in `data: [DONE]`.',
        endpoint=chat_completions,
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/models",
        "Models callable by this account",
        "openai-compatible",
        response=ModelList,
        envelope="raw",
        openai=True,
        endpoint=list_models,
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/models/{model}",
        "One callable model",
        "openai-compatible",
        response=ModelCard,
        envelope="raw",
        openai=True,
        params=(path_param("model"),),
        endpoint=get_model,
    ),
]
