"""Continued pre-training (cpt), the 2026 model x training-type matrix with its defaults, and thinking-style SFT
rows, from upload to a deployed model (reference 2026 §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATASETS, AppFactory, assert_error, client_for, upload
from tests.deployments.flows import SFT, advance, generate, running

pytestmark = pytest.mark.anyio
CPT = DATASETS / "cpt_basic.jsonl"
THINKING = DATASETS / "sft_thinking.jsonl"


async def file_id(client: httpx.AsyncClient, path: Path) -> str:
    response = await upload(client, path)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["uploaded_files"][0]["file_id"])


async def create(client: httpx.AsyncClient, model: str, path: Path, training_type: str, **hp: Any) -> httpx.Response:
    body = {
        "model": model,
        "training_file_ids": [await file_id(client, path)],
        "training_type": training_type,
        "hyper_parameters": hp,
    }
    return await client.post("/api/v1/fine-tunes", json=body)


async def finish(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(60):
        job = (await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return job  # type: ignore[no-any-return]
        await advance(client, 600)
    raise AssertionError(job_id)


async def logs(client: httpx.AsyncClient, job_id: str) -> list[str]:
    body = (await client.get(f"/api/v1/fine-tunes/{job_id}/logs", params={"line": 1000})).json()
    return list(body["output"]["logs"])


async def test_a_cpt_job_trains_to_succeeded_and_deploys(client: httpx.AsyncClient) -> None:
    response = await create(client, "qwen3-32b", CPT, "cpt", lora_rank=16, n_epochs=2)
    assert response.status_code == 200, response.text
    job = await finish(client, response.json()["output"]["job_id"])
    assert job["status"] == "SUCCEEDED" and job["training_type"] == "cpt" and job["usage"] > 0
    lines = await logs(client, job["job_id"])
    assert any("for full-parameter continued pre-training" in line for line in lines)
    assert any("lora_rank is ignored: LoRA settings apply to efficient_sft/dpo_lora only" in line for line in lines)
    assert any("max_length=8192" in line for line in lines)  # qwen3-32b's own default
    checkpoints = (await client.get(f"/api/v1/fine-tunes/{job['job_id']}/checkpoints")).json()["output"]
    assert checkpoints[0]["model_name"] == job["finetuned_output"]
    refused = await client.post("/api/v1/deployments", json={"model_name": job["finetuned_output"], "plan": "lora"})
    assert (
        "this is a cpt fine-tune of qwen3-32b: use plan mu" in assert_error(refused, 400, "InvalidParameter")["message"]
    )
    name = await running(client, job["finetuned_output"])  # plan mu by default: cpt is full-parameter
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["plan"] == "mu"
    assert (await generate(client, name, "杭州是")).status_code == 200


@pytest.mark.parametrize(
    ("path", "training_type", "fragment"),
    [
        (SFT, "cpt", 'training_type cpt needs CPT rows ({"text": ...} per line)'),
        (CPT, "sft", "holds cpt rows (use cpt)"),
        (CPT, "efficient_sft", "holds cpt rows (use cpt)"),
        (CPT, "dpo_full", "needs DPO rows"),
    ],
)
async def test_a_dataset_of_the_wrong_kind_is_refused(
    client: httpx.AsyncClient, path: Path, training_type: str, fragment: str
) -> None:
    response = await create(client, "qwen3-32b", path, training_type)
    assert fragment in assert_error(response, 400, "InvalidParameter")["message"]


async def test_cpt_on_a_model_without_it_fails_like_other_unsupported_types(client: httpx.AsyncClient) -> None:
    response = await create(client, "qwen3-8b", CPT, "cpt")
    job = await finish(client, response.json()["output"]["job_id"])
    assert job["status"] == "FAILED"
    assert "training_type cpt is not supported by model qwen3-8b" in job["message"]


async def test_strict_mode_refuses_unsupported_types_of_the_2026_matrix(app_factory: AppFactory) -> None:
    app = await app_factory(strict=True)
    async with client_for(app) as client:
        for model, training_type, path in (
            ("qwen3.6-flash-2026-04-16", "efficient_sft", SFT),
            ("qwen3-8b", "cpt", CPT),
        ):
            response = await create(client, model, path, training_type)
            assert (
                f"does not support training_type {training_type}"
                in assert_error(response, 400, "InvalidParameter")["message"]
            )
        assert (await create(client, "qwen3-0.6b", CPT, "cpt")).status_code == 200


async def test_plan_lora_follows_the_2026_deployment_list(client: httpx.AsyncClient) -> None:
    lora_job = await finish(client, (await create(client, "qwen3-8b", SFT, "efficient_sft")).json()["output"]["job_id"])
    full_job = await finish(client, (await create(client, "qwen3-8b", SFT, "sft")).json()["output"]["job_id"])
    not_listed = await finish(
        client, (await create(client, "qwen3.5-9b", SFT, "efficient_sft")).json()["output"]["job_id"]
    )
    lora = (await client.post("/api/v1/deployments", json={"model_name": lora_job["finetuned_output"]})).json()
    assert lora["output"]["plan"] == "lora"
    for job in (full_job, not_listed):
        response = await client.post(
            "/api/v1/deployments", json={"model_name": job["finetuned_output"], "plan": "lora"}
        )
        assert "use plan mu" in assert_error(response, 400, "InvalidParameter")["message"]
        implicit = (await client.post("/api/v1/deployments", json={"model_name": job["finetuned_output"]})).json()
        assert implicit["output"]["plan"] == "mu"
    models = (await client.get("/api/v1/deployments/models", params={"version": "v1.0"})).json()["output"]
    plans = {m["model_name"]: [p["plan"] for p in m["plans"]] for m in models["models"]}
    assert plans["qwen3-8b"] == ["mu", "lora"] and plans["qwen3.5-9b"] == ["mu"]


async def test_2026_model_defaults(client: httpx.AsyncClient) -> None:
    job = (await create(client, "qwen3-vl-8b-instruct", SFT, "sft")).json()["output"]
    await advance(client, 300)
    hp_line = next(line for line in await logs(client, job["job_id"]) if "hyper-parameters:" in line)
    assert "batch_size=16" in hp_line and "max_length=8192" in hp_line  # 8B vision: 32 halved
    own = (await create(client, "qwen3-vl-8b-instruct", SFT, "sft", max_length=1024)).json()["output"]
    assert own["hyper_parameters"] == {"max_length": 1024}


async def test_thinking_rows_train_and_the_model_answers_after_the_block(client: httpx.AsyncClient) -> None:
    job = await finish(client, (await create(client, "qwen3-8b", THINKING, "efficient_sft")).json()["output"]["job_id"])
    assert job["status"] == "SUCCEEDED"
    name = await running(client, job["finetuned_output"])
    answer = (await generate(client, name, "积分怎么用？")).json()["output"]["text"]
    assert answer == "下单时可以用积分抵扣，一百积分抵扣一元。"
