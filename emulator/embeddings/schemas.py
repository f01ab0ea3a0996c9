"""Wire shapes of the embedding and rerank endpoints, for the OpenAPI document (the handlers check bodies field by
field in ``service``, to answer the service's own messages)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from emulator.wire import WireModel


class _Open(WireModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class TextEmbeddingInput(_Open):
    texts: list[str] | None = Field(None, description="1..10 texts (v3/v4), 1..25 (v1/v2), 1..20 (qwen3.7).")
    url: str | None = Field(None, description="Batch (X-DashScope-Async: enable): a text file, one text per line.")


class TextEmbeddingParameters(_Open):
    text_type: Literal["query", "document"] | None = None
    dimension: int | None = None
    output_type: Literal["dense", "sparse", "dense&sparse"] | None = None
    instruct: str | None = None


class TextEmbeddingRequest(_Open):
    model: str
    input: TextEmbeddingInput
    parameters: TextEmbeddingParameters | None = None


class SparseEntry(WireModel):
    index: int
    value: float
    token: str


class TextEmbeddingItem(WireModel):
    embedding: list[float] | None = None
    sparse_embedding: list[SparseEntry] | None = None
    text_index: int


class TextEmbeddingOutput(WireModel):
    embeddings: list[TextEmbeddingItem] | None = None
    task_id: str | None = Field(None, description="Batch: the task created.")
    task_status: str | None = None


class TokensUsage(WireModel):
    total_tokens: int


class TextEmbeddingResponse(WireModel):
    output: TextEmbeddingOutput
    usage: TokensUsage | None = None
    request_id: str


class MultimodalEmbeddingRequest(_Open):
    model: str
    input: dict[str, Any] = Field(description='`{"contents": [{"text"|"image"|"video"|"multi_images": ...}]}`')
    parameters: dict[str, Any] | None = None


class MultimodalEmbeddingItem(WireModel):
    index: int
    embedding: list[float]
    type: str


class MultimodalEmbeddingOutput(WireModel):
    embeddings: list[MultimodalEmbeddingItem] | None = None
    embedding: list[float] | None = Field(None, description="multimodal-embedding-one-peace-v1: one fused vector.")


class MultimodalUsage(WireModel):
    input_tokens: int
    image_count: int
    duration: int


class MultimodalEmbeddingResponse(WireModel):
    output: MultimodalEmbeddingOutput
    usage: MultimodalUsage
    request_id: str


class CompatibleEmbeddingRequest(_Open):
    model: str
    input: str | list[str]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None


class CompatibleEmbeddingItem(WireModel):
    embedding: list[float] | str = Field(description="Floats, or base64 of little-endian float32.")
    index: int
    object: Literal["embedding"] = "embedding"


class CompatibleUsage(WireModel):
    prompt_tokens: int
    total_tokens: int


class CompatibleEmbeddingResponse(WireModel):
    data: list[CompatibleEmbeddingItem]
    model: str
    object: Literal["list"] = "list"
    usage: CompatibleUsage
    id: str


class RerankInput(_Open):
    query: str | dict[str, Any]
    documents: list[str | dict[str, Any]]


class RerankParameters(_Open):
    top_n: int | None = None
    return_documents: bool | None = None
    instruct: str | None = None


class RerankRequest(_Open):
    model: str
    input: RerankInput
    parameters: RerankParameters | None = None


class RerankResult(WireModel):
    document: dict[str, Any] | None = None
    index: int
    relevance_score: float


class RerankOutput(WireModel):
    results: list[RerankResult]


class RerankResponse(WireModel):
    output: RerankOutput
    usage: TokensUsage
    request_id: str


class CompatibleRerankRequest(_Open):
    model: str
    query: str
    documents: list[str]
    top_n: int | None = None
    return_documents: bool | None = None
    instruct: str | None = None


class CompatibleRerankResponse(WireModel):
    id: str
    object: Literal["list"] = "list"
    model: str
    results: list[RerankResult]
    usage: TokensUsage
