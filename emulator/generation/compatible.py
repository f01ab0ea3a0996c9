"""The OpenAI-compatible chat completion without HTTP: a request body in, the answer out.

``chat_completion`` is what ``POST /compatible-mode/v1/chat/completions`` does for a JSON answer, callable by
anything that has a body but no request (a batch line); ``ask_for`` checks a body into the service's ``Ask``.
"""

from __future__ import annotations

from typing import Any

from emulator.context import RequestContext
from emulator.errors import InvalidParameter
from emulator.generation.answer import Answer
from emulator.generation.media import OssResolver, openai_conversation
from emulator.generation.renderers.compatible import compatible_body
from emulator.generation.schemas import ChatCompletionRequest, parse
from emulator.generation.service import Ask, GenerationService, check_messages, check_sampling
from emulator.tenants import Tenant


def ask_for(
    tenant: Tenant,
    request_id: str,
    body: dict[str, Any],
    *,
    oss: OssResolver | None = None,
    ctx: RequestContext | None = None,
) -> tuple[Ask, ChatCompletionRequest]:
    if body.get("model") in (None, ""):
        raise InvalidParameter("you must provide a model parameter", param="model")
    req = parse(ChatCompletionRequest, body)
    if req.frequency_penalty is not None and not -2 <= req.frequency_penalty <= 2:
        raise InvalidParameter("Range of frequency_penalty should be [-2.0, 2.0]", param="frequency_penalty")
    sampling = check_sampling(req, max_tokens=req.max_completion_tokens or req.max_tokens)
    messages = check_messages(req.messages, "messages")
    conversation = openai_conversation(body["messages"]) if _has_media(req) else None
    ask = Ask(
        tenant,
        request_id,
        req.model,
        messages,
        sampling,
        req,
        bool(req.stream),
        conversation=conversation,
        oss=oss,
        openai=True,
        ctx=ctx,
    )
    return ask, req


def head(request_id: str, created: int, model: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{request_id}", "created": created, "model": model}


async def chat_completion(
    gen: GenerationService,
    tenant: Tenant,
    body: dict[str, Any],
    request_id: str,
    created: int,
    *,
    ctx: RequestContext | None = None,
) -> dict[str, Any]:
    """The ``chat.completion`` object for a body (``stream`` is ignored: one whole answer); the service's
    ``ApiError`` for a bad one.  ``ctx``: where a response rule that answers (or comes close) is noted."""
    ask, req = ask_for(tenant, request_id, {**body, "stream": False}, ctx=ctx)
    answer: Answer = await gen.answer(ask)
    return compatible_body(answer, head(request_id, created, req.model))


def _has_media(req: ChatCompletionRequest) -> bool:
    return any(
        isinstance(m.content, list) and any(part.get("type", "text") != "text" for part in m.content)
        for m in req.messages
    )
