"""The route table of ``emulator.embeddings``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param

HANDLERS = "emulator.embeddings.handlers"
SCHEMAS = "emulator.embeddings.schemas"

_ASYNC = Param(
    "X-DashScope-Async",
    where="header",
    schema={"type": "string", "enum": ["enable"]},
    description="`enable`: a batch embedding task over `input.url` (text-embedding-async-v1/v2); answers "
    "`output.task_id` and `output.task_status`.",
)


operations = [
    Operation(
        "POST",
        "/api/v1/services/embeddings/text-embedding/text-embedding",
        "Text embedding (or, with X-DashScope-Async, a batch embedding task)",
        "embeddings",
        request=f"{SCHEMAS}:TextEmbeddingRequest",
        response=f"{SCHEMAS}:TextEmbeddingResponse",
        envelope="raw",
        params=(_ASYNC,),
        description="text-embedding-v1..v4, qwen3.7-text-embedding: `dimension`, `text_type`, `output_type` "
        "(dense, sparse, dense&sparse on v3+). Vectors are unit-norm hashed word and n-gram features: identical "
        "texts give identical vectors, texts sharing words are closer.",
        endpoint=lazy.handler(f"{HANDLERS}:text_embedding"),
    ),
    Operation(
        "POST",
        "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding",
        "Multimodal embedding (text, image, video items)",
        "embeddings",
        request=f"{SCHEMAS}:MultimodalEmbeddingRequest",
        response=f"{SCHEMAS}:MultimodalEmbeddingResponse",
        envelope="raw",
        description="Media are never fetched: an image's vector is made of its reference (URL words).",
        endpoint=lazy.handler(f"{HANDLERS}:multimodal_embedding"),
    ),
    Operation(
        "POST",
        "/compatible-mode/v1/embeddings",
        "OpenAI-compatible embeddings",
        "openai-compatible",
        request=f"{SCHEMAS}:CompatibleEmbeddingRequest",
        response=f"{SCHEMAS}:CompatibleEmbeddingResponse",
        envelope="raw",
        openai=True,
        description='`dimensions`; `encoding_format` `"float"` or `"base64"` (little-endian float32, the openai '
        "SDK's default).",
        endpoint=lazy.handler(f"{HANDLERS}:compatible_embeddings"),
    ),
    Operation(
        "POST",
        "/api/v1/services/rerank/text-rerank/text-rerank",
        "Text rerank",
        "embeddings",
        request=f"{SCHEMAS}:RerankRequest",
        response=f"{SCHEMAS}:RerankResponse",
        envelope="raw",
        description="gte-rerank-v2, qwen3-rerank, qwen3-vl-rerank, qwen3.7-text-rerank: `top_n`, "
        "`return_documents`. Scores rise with the words a document shares with the query.",
        endpoint=lazy.handler(f"{HANDLERS}:rerank"),
    ),
    Operation(
        "POST",
        "/compatible-api/v1/reranks",
        "OpenAI-style rerank (qwen3-rerank)",
        "openai-compatible",
        request=f"{SCHEMAS}:CompatibleRerankRequest",
        response=f"{SCHEMAS}:CompatibleRerankResponse",
        envelope="raw",
        openai=True,
        endpoint=lazy.handler(f"{HANDLERS}:compatible_rerank"),
    ),
]
