"""The models a tenant sees: the shared catalogue first (fixed order), then its own models, newest first."""

from __future__ import annotations

import functools
import re
from typing import Any

from emulator.catalog import ModelInfo, load_catalog
from emulator.deployments.service import DeploymentsService
from emulator.deployments.states import DeploymentStatus
from emulator.embeddings.specs import ASYNC_MODELS, MULTIMODAL_MODELS, RERANK_MODELS, TEXT_MODELS
from emulator.fine_tunes.exports import ExportLedger
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import JobStatus
from emulator.tenants import Tenant

BATCH_TEST_MODEL = "batch-test-model"
_SIZED = re.compile(r"-\d+(\.\d+)?b\b|-a\d+b\b")
MAX_CUSTOM = 10_000
"""The tenant's own models read for one page at most (its fine-tunes and deployments are bounded far below)."""


def _catalog_item(model: ModelInfo) -> dict[str, Any]:
    capabilities = ["multimodal-generation" if model.vision else "text-generation"]
    if model.fine_tunable:
        capabilities.append("fine-tuning")
    if model.deployable:
        capabilities.append("deployment")
    capabilities.append("batch")
    return {
        "model": model.id,
        "source": "dashscope",
        "provider": model.family,
        "opensource": model.family != "qwen" or bool(_SIZED.search(model.id)),
        "name": model.name,
        "capabilities": capabilities,
        "context_window": model.context_window,
    }


def _service_item(model_id: str, capabilities: list[str]) -> dict[str, Any]:
    return {
        "model": model_id,
        "source": "dashscope",
        "provider": "qwen",
        "opensource": False,
        "name": model_id,
        "capabilities": capabilities,
    }


@functools.cache
def base_items() -> tuple[dict[str, Any], ...]:
    items = [_catalog_item(m) for m in load_catalog().models()]
    seen = {i["model"] for i in items}
    extra = [
        *((m, ["text-embedding", "batch"] if m == "text-embedding-v4" else ["text-embedding"]) for m in TEXT_MODELS),
        *((m, ["batch-text-embedding"]) for m in ASYNC_MODELS),
        *((m, ["multimodal-embedding"]) for m in MULTIMODAL_MODELS),
        *((m, ["text-rerank"]) for m in RERANK_MODELS),
        (BATCH_TEST_MODEL, ["batch"]),
    ]
    items += [_service_item(m, caps) for m, caps in extra if m not in seen]
    return tuple(items)


class ModelCardsService:
    def __init__(self, fine_tunes: FineTunesService, exports: ExportLedger, deployments: DeploymentsService) -> None:
        self.fine_tunes = fine_tunes
        self.exports = exports
        self.deployments = deployments

    async def custom_items(self, tenant: Tenant) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        _, jobs = await self.fine_tunes.list_jobs(tenant, 0, MAX_CUSTOM, None)
        for job in jobs:
            if job.status is JobStatus.SUCCEEDED:
                items.setdefault(job.output_model, _custom(job.output_model, job.base_model, ["text-generation"]))
        for name, job in await self.exports.exported_models(tenant):
            items.setdefault(name, _custom(name, job.base_model, ["text-generation", "deployment"]))
        _, rows = await self.deployments.list_deployments(tenant, 0, MAX_CUSTOM)
        for row in rows:
            if row.status is DeploymentStatus.RUNNING:
                item = items.setdefault(row.deployed_model, _custom(row.deployed_model, row.base_model, []))
                item["capabilities"] = sorted({*item["capabilities"], "text-generation", "deployment"})
        return list(items.values())

    async def page(
        self, tenant: Tenant, offset: int, limit: int, model: str | None
    ) -> tuple[int, list[dict[str, Any]]]:
        base = base_items()
        if model is not None:
            found = await self.find(tenant, model)
            return (1, [found][offset : offset + limit]) if found else (0, [])
        if offset + limit <= len(base):
            custom_total = len(await self.custom_items(tenant))
            return len(base) + custom_total, list(base[offset : offset + limit])
        everything = [*base, *await self.custom_items(tenant)]
        return len(everything), everything[offset : offset + limit]

    async def find(self, tenant: Tenant, model: str) -> dict[str, Any] | None:
        for item in base_items():
            if item["model"] == model:
                return item
        for item in await self.custom_items(tenant):
            if item["model"] == model:
                return item
        return None


def _custom(model: str, base_model: str, capabilities: list[str]) -> dict[str, Any]:
    return {
        "model": model,
        "source": "custom",
        "provider": "custom",
        "opensource": False,
        "name": model,
        "capabilities": capabilities,
        "base_model": base_model,
    }
