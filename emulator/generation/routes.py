"""The route table of ``emulator.generation``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.generation import RESPONSES_MAX_ITEMS_PAGE
from emulator.openapi import Operation, Param, path_param

HANDLERS = "emulator.generation.handlers"
MULTIMODAL = "emulator.generation.multimodal_handlers"
TOKENIZER = "emulator.generation.tokenizer"
COMPATIBLE = "emulator.generation.openai_handlers"
RESPONSES = "emulator.generation.responses_handlers"
SCHEMAS = "emulator.generation.schemas"

MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"

RESPONSES_PATH = "/compatible-mode/v1/responses"

RESPONSES_LEGACY_PATH = "/api/v2/apps/protocols/compatible-mode/v1/responses"
RESPONSES_SCHEMAS = "emulator.generation.responses_schemas"
_RESPONSES_PAGE = (
    Param("limit", schema={"type": "integer", "minimum": 1, "maximum": RESPONSES_MAX_ITEMS_PAGE, "default": 20}),
    Param("order", schema={"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
    Param("after", description="An item id: the page starts after it."),
)


def _responses(prefix: str, legacy: bool) -> list[Operation]:
    note = " (legacy path, an alias)" if legacy else ""
    tag = "responses"
    item = (path_param("response_id"),)
    return [
        Operation(
            "POST",
            prefix,
            "Create a model response" + note,
            tag,
            request=f"{RESPONSES_SCHEMAS}:ResponseCreateRequest",
            response=f"{RESPONSES_SCHEMAS}:ResponseObject",
            envelope="raw",
            sse=True,
            description="String or item `input`, `instructions`, function tools and their call/output items, "
            "`previous_response_id`, `store`; `stream: true` answers the documented event sequence "
            "(`response.created` ... `response.completed`).",
            endpoint=lazy.handler(f"{RESPONSES}:create"),
            name=f"responses_create{'_legacy' if legacy else ''}",
        ),
        Operation(
            "GET",
            prefix + "/{response_id}/input_items",
            "A stored response's input items" + note,
            tag,
            response=f"{RESPONSES_SCHEMAS}:ResponseInputItems",
            envelope="raw",
            params=item + _RESPONSES_PAGE,
            endpoint=lazy.handler(f"{RESPONSES}:input_items"),
            name=f"responses_input_items{'_legacy' if legacy else ''}",
        ),
        Operation(
            "GET",
            prefix + "/{response_id}",
            "A stored response" + note,
            tag,
            response=f"{RESPONSES_SCHEMAS}:ResponseObject",
            envelope="raw",
            params=item,
            endpoint=lazy.handler(f"{RESPONSES}:retrieve"),
            name=f"responses_get{'_legacy' if legacy else ''}",
        ),
        Operation(
            "DELETE",
            prefix + "/{response_id}",
            "Delete a stored response" + note,
            tag,
            response=f"{RESPONSES_SCHEMAS}:ResponseDeleted",
            envelope="raw",
            params=item,
            endpoint=lazy.handler(f"{RESPONSES}:delete"),
            name=f"responses_delete{'_legacy' if legacy else ''}",
        ),
    ]


_NATIVE = [
    Operation(
        "POST",
        "/api/v1/services/aigc/text-generation/generation",
        "Generate text (JSON, or SSE on request)",
        "generation",
        request=f"{SCHEMAS}:GenerationRequest",
        response=f"{SCHEMAS}:GenerationResponse",
        envelope="raw",
        description="Server-Sent Events when `X-DashScope-SSE: enable` or `Accept: text/event-stream` is "
        "sent: `id:`, `event:result`, `:HTTP_STATUS/200`, `data:{...}` per chunk; "
        "`parameters.incremental_output` picks deltas or the text so far.",
        endpoint=lazy.handler(f"{HANDLERS}:generate"),
    ),
]


_MULTIMODAL = [
    Operation(
        "POST",
        MULTIMODAL_PATH,
        "Chat with a vision model (JSON, or SSE on request)",
        "generation",
        endpoint=lazy.handler(f"{MULTIMODAL}:generate"),
        request=f"{SCHEMAS}:MultimodalRequest",
        response=f"{SCHEMAS}:MultimodalResponse",
        envelope="raw",
        description="Images as `http(s)` URLs (never fetched; hosts such as `unreachable.example` or `*.invalid` "
        "fail to download), `data:` URIs, or `oss://` keys uploaded through `GET /api/v1/uploads` (send "
        "`X-DashScope-OssResourceResolve: enable`). SSE as for text generation; `incremental_output` picks "
        "deltas or the text so far.",
    ),
]


_TOKENIZER = [
    Operation(
        "POST",
        "/api/v1/tokenizer",
        "Tokenize a prompt (the counts generation usage and dataset checks use)",
        "generation",
        endpoint=lazy.handler(f"{TOKENIZER}:tokenizer"),
        request=f"{TOKENIZER}:TokenizerRequest",
        response=f"{TOKENIZER}:TokenizerResponse",
        envelope="raw",
        description="`input.messages` (their text) or `input.prompt`; answers `output.tokens`, `output.token_ids` "
        "and `usage.input_tokens`.",
    ),
]


_COMPATIBLE = [
    Operation(
        "POST",
        "/compatible-mode/v1/chat/completions",
        "OpenAI-compatible chat completion",
        "openai-compatible",
        request=f"{SCHEMAS}:ChatCompletionRequest",
        response=f"{SCHEMAS}:ChatCompletion",
        envelope="raw",
        openai=True,
        description='`"stream": true` answers `chat.completion.chunk` events ending in `data: [DONE]`.',
        endpoint=lazy.handler(f"{COMPATIBLE}:chat_completions"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/models",
        "Models callable by this account",
        "openai-compatible",
        response=f"{SCHEMAS}:ModelList",
        envelope="raw",
        openai=True,
        endpoint=lazy.handler(f"{COMPATIBLE}:list_models"),
    ),
    Operation(
        "GET",
        "/compatible-mode/v1/models/{model}",
        "One callable model",
        "openai-compatible",
        response=f"{SCHEMAS}:ModelCard",
        envelope="raw",
        openai=True,
        params=(path_param("model"),),
        endpoint=lazy.handler(f"{COMPATIBLE}:get_model"),
    ),
]


_RESPONSES = _responses(RESPONSES_PATH, False) + _responses(RESPONSES_LEGACY_PATH, True)


operations = [*_NATIVE, *_MULTIMODAL, *_TOKENIZER, *_COMPATIBLE, *_RESPONSES]
