"""What each embedding and rerank model accepts (reference §6.4, §6.7, §6.8, §7.1): dimensions, rows, tokens.

These are the models' service limits, not the fine-tuning catalogue (``emulator.catalog``): the models list
(``emulator.model_cards``) reads both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextModel:
    id: str
    dimensions: tuple[int, ...]
    default_dimension: int
    max_rows: int
    max_tokens: int
    space: str
    """The vector space: two models with the same space give the same vectors (the async v2 is v2's)."""
    sparse: bool = False
    """``output_type`` sparse / dense&sparse (v3, v4 and later)."""
    rows_field: str = "input.contents"
    """How the batch-size error names the field (v1/v2 say ``payload.input.contents``)."""


TEXT_MODELS: dict[str, TextModel] = {
    m.id: m
    for m in (
        TextModel("text-embedding-v1", (1536,), 1536, 25, 2048, "v1", rows_field="payload.input.contents"),
        TextModel("text-embedding-v2", (1536,), 1536, 25, 2048, "v2", rows_field="payload.input.contents"),
        TextModel("text-embedding-v3", (1024, 768, 512, 256, 128, 64), 1024, 10, 8192, "v3", sparse=True),
        TextModel("text-embedding-v4", (2048, 1536, 1024, 768, 512, 256, 128, 64), 1024, 10, 8192, "v4", sparse=True),
        TextModel(
            "qwen3.7-text-embedding", (2560, 2048, 1536, 1024, 768, 512, 256), 1024, 20, 128000, "q37", sparse=True
        ),
    )
}

ASYNC_MODELS: dict[str, TextModel] = {
    "text-embedding-async-v1": TextModel("text-embedding-async-v1", (1536,), 1536, 100_000, 2048, "v1"),
    "text-embedding-async-v2": TextModel("text-embedding-async-v2", (1536,), 1536, 100_000, 2048, "v2"),
}
ASYNC_MAX_LINES = 100_000
ASYNC_MAX_ACTIVE = 50
"""Queued plus running batch-embedding tasks per account (text-embedding-batch-api)."""


@dataclass(frozen=True)
class MultimodalModel:
    id: str
    dimensions: tuple[int, ...]
    default_dimension: int
    max_items: int
    fused: bool = False
    """The one-peace model answers one fused ``output.embedding`` for all its items."""
    fusion: bool = False
    """``enable_fusion`` allowed (qwen3-vl-embedding)."""


MULTIMODAL_MODELS: dict[str, MultimodalModel] = {
    m.id: m
    for m in (
        MultimodalModel("multimodal-embedding-v1", (1024,), 1024, 20),
        MultimodalModel("multimodal-embedding-one-peace-v1", (1536,), 1536, 20, fused=True),
        MultimodalModel("qwen3-vl-embedding", (2560, 2048, 1536, 1024, 768, 512, 256), 2560, 20, fusion=True),
        MultimodalModel("qwen2.5-vl-embedding", (2048, 1024, 768, 512), 1024, 20),
        MultimodalModel("tongyi-embedding-vision-plus", (1152, 1024, 512, 256, 128, 64), 1152, 20),
        MultimodalModel("tongyi-embedding-vision-flash", (768, 512, 256, 128, 64), 768, 20),
    )
}


@dataclass(frozen=True)
class RerankModel:
    id: str
    max_documents: int
    max_tokens: int
    """Per request: ``query_tokens * documents + sum(document tokens)``."""
    compatible: bool = False
    """Also served by ``/compatible-api/v1/reranks``."""


RERANK_MODELS: dict[str, RerankModel] = {
    m.id: m
    for m in (
        RerankModel("gte-rerank-v2", 500, 30000),
        RerankModel("qwen3-rerank", 500, 120000, compatible=True),
        RerankModel("qwen3-vl-rerank", 100, 120000),
        RerankModel("qwen3.7-text-rerank", 500, 120000),
    )
}
RERANK_SPACE = "rerank"
RERANK_DIMENSION = 1024
