"""Wire shapes of the models list (reference §5.1)."""

from __future__ import annotations

from pydantic import Field

from emulator.wire import WireModel


class ModelItem(WireModel):
    model: str
    source: str = Field(description='"dashscope" for a base model, "custom" for the tenant\'s own.')
    provider: str
    opensource: bool
    name: str
    capabilities: list[str] = Field(
        description="text-generation, multimodal-generation, fine-tuning, deployment, text-embedding, "
        "multimodal-embedding, batch-text-embedding, text-rerank, batch."
    )
    base_model: str | None = Field(None, description="A custom model's base model.")
    context_window: int | None = None


class ModelPage(WireModel):
    models: list[ModelItem]
    total: int
    page_no: int
    page_size: int
