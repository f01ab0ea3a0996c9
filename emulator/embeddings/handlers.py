"""HTTP for text, multimodal and OpenAI-compatible embeddings and for rerank (native and ``/compatible-api``).

A text-embedding POST with ``X-DashScope-Async: enable`` creates a batch task instead (``emulator.tasks``).
Answers are joined from each vector's JSON (``service.vector_json``) rather than dumped as a dict of floats.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.embeddings import service
from emulator.embeddings.specs import ASYNC_MODELS
from emulator.errors import AccessDenied, ApiError, EmptyInput, InvalidParameter, ModelNotExist, ModelNotFound
from emulator.http import FastJSONResponse, envelope, read_json_object, request_id
from emulator.services import services

ALGO_PREFIX = "<400> InternalError.Algo.InvalidParameter: "
SYNC_REFUSED = "current user api does not support synchronous calls"
ASYNC_REFUSED = "current user api does not support asynchronous calls"
ASYNC_HEADER = "x-dashscope-async"


class AlgoInvalidParameter(InvalidParameter):
    """A compatible-mode embedding or rerank refusal, in the body recorded for it (reference §6.6):
    ``type`` and ``code`` both ``InvalidParameter``, the native message behind the algorithm prefix, ``id``."""

    def openai_body(self, request_id: str) -> dict[str, Any]:
        error = {"message": ALGO_PREFIX + self.message, "type": "InvalidParameter", "param": None, "code": self.code}
        return {"error": error, "id": request_id, "request_id": request_id}


def _compatible(exc: ApiError) -> ApiError:
    if isinstance(exc, InvalidParameter) and exc.status == 400:
        return AlgoInvalidParameter(exc.message, code=exc.code)
    return exc


def _raw(pieces: list[bytes]) -> Response:
    return FastJSONResponse.raw(b"".join(pieces))


def _rid(request: Request) -> bytes:
    return json.dumps(request_id(request)).encode()


async def text_embedding(request: Request) -> Response:
    body = await read_json_object(request)
    if request.headers.get(ASYNC_HEADER, "").lower() == "enable":
        return await _batch_embedding(request, body)
    if body.get("model") in ASYNC_MODELS:
        raise AccessDenied(SYNC_REFUSED)
    job = service.text_job(body)
    tail = b'},"usage":{"total_tokens":%d},"request_id":%s}' % (job.tokens, _rid(request))
    return _raw([b'{"output":{"embeddings":', *service.text_items_json(job), tail])


async def _batch_embedding(request: Request, body: dict[str, Any]) -> Response:
    model = body.get("model")
    if isinstance(model, str) and model not in ASYNC_MODELS:
        service.text_model(model)  # unknown → "Model not exist."; a synchronous model → refused below
        raise AccessDenied(ASYNC_REFUSED)
    tasks = services(request).tasks
    task = await tasks.create_embedding_task(caller(request), body, request_id(request), str(request.base_url))
    return envelope(request, "output", {"task_status": "PENDING", "task_id": task.task_id})  # as it was when made


async def multimodal_embedding(request: Request) -> Response:
    job = service.multimodal_job(await read_json_object(request))
    usage = {"input_tokens": job.tokens, "image_count": job.images, "duration": job.duration}
    return envelope(request, "output", service.multimodal_output(job), usage=usage)


async def compatible_embeddings(request: Request) -> Response:
    body = await read_json_object(request)
    try:
        job, base64_format = service.compatible_job(body)
    except ModelNotExist:
        raise ModelNotFound(
            f"The model `{body.get('model')}` does not exist or you do not have access to it.", param="model"
        ) from None
    except ApiError as exc:
        raise _compatible(exc) from None
    model = json.dumps(job.model.id).encode()
    usage = b'"usage":{"prompt_tokens":%d,"total_tokens":%d}' % (job.tokens, job.tokens)
    tail = b',"model":%s,"object":"list",%s,"id":%s}' % (model, usage, _rid(request))
    return _raw([b'{"data":', *service.compatible_items_json(job, base64_format), tail])


async def rerank(request: Request) -> Response:
    body = await read_json_object(request)
    given = body.get("input")
    if not isinstance(given, dict):
        service.rerank_model(body.get("model"), compatible=False)
        raise EmptyInput()
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidParameter("parameters must be an object.", param="parameters")
    job = service.rerank_job(
        body.get("model"),
        given.get("query"),
        given.get("documents"),
        params.get("top_n"),
        params.get("return_documents"),
        compatible=False,
    )
    return envelope(request, "output", {"results": service.rerank_results(job)}, usage={"total_tokens": job.tokens})


async def compatible_rerank(request: Request) -> Response:
    body = await read_json_object(request)
    try:
        job = service.rerank_job(
            body.get("model"),
            body.get("query"),
            body.get("documents"),
            body.get("top_n"),
            body.get("return_documents"),
            compatible=True,
        )
    except ModelNotExist:
        raise ModelNotFound(
            f"The model `{body.get('model')}` does not exist or you do not have access to it.", param="model"
        ) from None
    except ApiError as exc:
        raise _compatible(exc) from None
    rid = request_id(request)
    answer = {
        "id": rid,
        "object": "list",
        "model": job.model.id,
        "results": service.rerank_results(job),
        "usage": {"total_tokens": job.tokens},
    }
    return FastJSONResponse(answer)
