"""HTTP for the OpenAI-compatible mode: ``POST /compatible-mode/v1/chat/completions`` and ``GET .../models``.

Errors come out in OpenAI's shape by themselves (``http.error_response``); an unknown model is 404
``model_not_found`` here, where the native endpoint answers 400 "Model not exist.".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.context import caller, context
from emulator.deployments.states import DeploymentStatus
from emulator.errors import ModelNotFound
from emulator.generation.compatible import ask_for, head
from emulator.generation.renderers.compatible import compatible_body, compatible_chunks, compatible_frame
from emulator.generation.replies import DONE, frames_of, generation_stream, openai_error_frames
from emulator.generation.requests import oss_resolver
from emulator.http import read_json_object, request_id
from emulator.runtime import runtime
from emulator.services import services

CATALOG_CREATED = 1704038400
"""2024-01-01T00:00:00+08:00: the ``created`` of every shared model in ``/models``."""


def _model_not_found(model: str) -> ModelNotFound:
    return ModelNotFound(f"The model `{model}` does not exist or you do not have access to it.", param="model")


async def chat_completions(request: Request) -> Response:
    body = await read_json_object(request)
    rid = request_id(request)
    ask, req = ask_for(caller(request), rid, body, oss=oss_resolver(request), ctx=context(request))
    answer = await services(request).generation.answer(ask)
    top = head(rid, int(runtime(request).clock.now()), req.model)
    if not ask.stream:
        return JSONResponse(compatible_body(answer, top))
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    frames = (compatible_frame(c) for c in compatible_chunks(answer, top, include_usage=include_usage))
    return generation_stream(request, frames_of(frames), openai_error_frames(rid), DONE)


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
