"""Steps the deployment and generation tests share: a succeeded fine-tune, a deployment, the clock."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import DATASETS, upload

SFT = DATASETS / "sft_basic.jsonl"
GENERATION = "/api/v1/services/aigc/text-generation/generation"
READY_SECONDS = 30 + 60  # PENDING, then DEPLOYING for a capacity of up to 3


def training_pairs() -> list[tuple[str, str]]:
    """(last user prompt, assistant answer) of every row of sft_basic.jsonl."""
    pairs = []
    for line in SFT.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        pairs.append(
            (
                [m["content"] for m in messages if m["role"] == "user"][-1],
                [m["content"] for m in messages if m["role"] == "assistant"][-1],
            )
        )
    return pairs


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    assert (await client.post("/_emulator/clock/advance", json={"seconds": seconds})).status_code == 200


async def finetuned_model(client: httpx.AsyncClient, model: str = "qwen-turbo") -> dict[str, Any]:
    """A SUCCEEDED fine-tune of sft_basic.jsonl: its job object (``finetuned_output`` names the model)."""
    file_id = (await upload(client, SFT)).json()["data"]["uploaded_files"][0]["file_id"]
    created = await client.post("/api/v1/fine-tunes", json={"model": model, "training_file_ids": [file_id]})
    job_id = created.json()["output"]["job_id"]
    for _ in range(50):
        job = (await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]
        if job["status"] == "SUCCEEDED":
            return job  # type: ignore[no-any-return]
        await advance(client, 600)
    raise AssertionError(f"{job_id} did not succeed: {job}")


async def deploy(client: httpx.AsyncClient, model_name: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/deployments", json={"model_name": model_name, **body})
    assert response.status_code == 200, response.text
    return response.json()["output"]  # type: ignore[no-any-return]


async def running(client: httpx.AsyncClient, model_name: str, **body: Any) -> str:
    """Deploy and move the clock until the deployment is RUNNING; answers its deployed_model."""
    name = str((await deploy(client, model_name, **body))["deployed_model"])
    await advance(client, 30 + 20 * max(3, int(body.get("capacity", 1))))
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "RUNNING"
    return name


async def generate(
    client: httpx.AsyncClient,
    model: str,
    prompt: str = "你是谁?",
    *,
    headers: dict[str, str] | None = None,
    **parameters: Any,
) -> httpx.Response:
    body = {"model": model, "input": {"messages": [{"role": "user", "content": prompt}]}, "parameters": parameters}
    return await client.post(GENERATION, json=body, headers=headers)
