"""Checkpoints and their export (reference 2026 §2), in-process on a frozen clock."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import assert_error, upload
from tests.deployments.flows import SFT, advance, generate, running, training_pairs

pytestmark = pytest.mark.anyio
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


async def new_job(client: httpx.AsyncClient, **hp: Any) -> str:
    file_id = (await upload(client, SFT)).json()["data"]["uploaded_files"][0]["file_id"]
    body = {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": {"n_epochs": 3, **hp}}
    response = await client.post("/api/v1/fine-tunes", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["output"]["job_id"])


async def job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    return (await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]  # type: ignore[no-any-return]


async def checkpoints(client: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/fine-tunes/{job_id}/checkpoints")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"request_id", "output"}
    return response.json()["output"]  # type: ignore[no-any-return]


async def succeed(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(50):
        if (j := await job(client, job_id))["status"] == "SUCCEEDED":
            return j
        await advance(client, 600)
    raise AssertionError(job_id)


async def export(client: httpx.AsyncClient, job_id: str, checkpoint: str, **params: str) -> httpx.Response:
    return await client.get(f"/api/v1/fine-tunes/{job_id}/export/{checkpoint}", params=params)


async def test_checkpoints_appear_as_training_passes_their_steps(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client, eval_steps=1)
    assert await checkpoints(client, job_id) == []  # not started yet
    seen: list[list[int]] = []
    for _ in range(40):
        seen.append([c["step"] for c in await checkpoints(client, job_id)])
        if (await job(client, job_id))["status"] == "SUCCEEDED":
            break
        await advance(client, 15)
    final = await checkpoints(client, job_id)
    steps = [c["step"] for c in final]
    assert steps == sorted(steps, reverse=True) and len(steps) >= 3  # newest first
    assert any(0 < len(s) < len(steps) for s in seen)  # they came one by one
    logged = (await client.get(f"/api/v1/fine-tunes/{job_id}/logs", params={"line": 1000})).json()["output"]["logs"]
    assert any(f"step {steps[0]}" in line or f"{steps[0]}/{steps[0]}" in line for line in logged)
    top, older = final[0], final[1]
    j = await job(client, job_id)
    assert top["status"] == "SUCCEEDED" and top["model_name"] == j["finetuned_output"]
    assert top["full_name"] == top["checkpoint_id"] == f"{job_id}:checkpoint-{top['step']}"
    assert top["checkpoint"] == f"checkpoint-{top['step']}" and top["job_id"] == job_id
    assert ISO.match(top["create_time"]) and ISO.match(top["expire_time"])
    assert older["status"] == "PENDING" and "model_name" not in older and "model_display_name" not in older
    assert older["create_time"] <= top["create_time"]


async def test_export_moves_pending_processing_succeeded_and_the_model_deploys(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client, eval_steps=1)
    j = await succeed(client, job_id)
    older = (await checkpoints(client, job_id))[1]
    response = await export(client, job_id, older["checkpoint"], model_name="my-export")
    assert response.status_code == 200 and response.json()["output"] is True
    statuses = []
    for seconds in (0, 30, 150):
        await advance(client, seconds) if seconds else None
        statuses.append(next(c for c in await checkpoints(client, job_id) if c["step"] == older["step"]))
    assert [c["status"] for c in statuses] == ["PENDING", "PROCESSING", "SUCCEEDED"]
    done = statuses[-1]
    assert done["model_name"] == f"{j['finetuned_output']}-c{older['step']}"
    assert done["model_display_name"] == "my-export"
    again = await export(client, job_id, older["checkpoint"], model_name="other-name")  # idempotent
    assert again.json()["output"] is True
    assert (await checkpoints(client, job_id))[1]["model_display_name"] == "my-export"

    name = await running(client, done["model_name"])
    assert name == done["model_name"]
    answered = await generate(client, name, training_pairs()[0][0])
    assert answered.status_code == 200, answered.text
    custom = (await client.get("/api/v1/deployments/models", params={"model_source": "custom"})).json()["output"]
    assert [m["model_name"] for m in custom["models"]] == [j["finetuned_output"], done["model_name"]]
    refused = await client.delete(f"/api/v1/fine-tunes/{job_id}")  # the export's deployment holds the job
    assert name in assert_error(refused, 400, "UnsupportedOperation")["message"]


async def test_an_export_in_progress_is_not_deployable_yet(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client, eval_steps=1)
    j = await succeed(client, job_id)
    older = (await checkpoints(client, job_id))[1]
    await export(client, job_id, older["checkpoint"], model_name="soon")
    response = await client.post(
        "/api/v1/deployments", json={"model_name": f"{j['finetuned_output']}-c{older['step']}"}
    )
    assert_error(response, 400, "InvalidParameter")


async def test_export_errors(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client, eval_steps=1)
    assert_error(await export(client, "ft-202401011200-0000", "checkpoint-1", model_name="x"), 404, "NotFound")
    assert_error(await client.get("/api/v1/fine-tunes/ft-202401011200-0000/checkpoints"), 404, "NotFound")
    early = assert_error(await export(client, job_id, "checkpoint-1", model_name="x"), 400, "UnsupportedOperation")
    assert early["message"].startswith("The checkpoint cannot be exported before the fine-tuning job succeeds")
    await succeed(client, job_id)
    older = (await checkpoints(client, job_id))[1]["checkpoint"]
    missing = assert_error(await export(client, job_id, older), 400, "InvalidParameter")
    assert missing["message"] == (
        "Required parameter(model_name) missing or invalid, please check the request parameters."
    )
    assert_error(await export(client, job_id, older, model_name=" "), 400, "InvalidParameter")
    for bad in ("checkpoint-999999", "step-1", "ft-202401011200-0000:checkpoint-1"):
        unknown = assert_error(await export(client, job_id, bad, model_name="x"), 400, "InvalidParameter")
        assert unknown["message"] == f"Checkpoint not found: {bad}."
    assert (await export(client, job_id, f"{job_id}:{older}", model_name="taken")).status_code == 200
    third = (await checkpoints(client, job_id))[2]["checkpoint"]
    assert_error(await export(client, job_id, third, model_name="taken"), 409, "Conflict")
    await advance(client, 15 * 86400)
    expired = assert_error(await export(client, job_id, third, model_name="late"), 400, "InvalidParameter")
    assert expired["message"].startswith("The checkpoint has expired")


async def test_checkpoints_of_another_tenant_are_invisible(client: httpx.AsyncClient, app: Any) -> None:
    from tests.conftest import client_for

    job_id = await new_job(client)
    async with client_for(app, "sk-other") as other:
        assert_error(await other.get(f"/api/v1/fine-tunes/{job_id}/checkpoints"), 404, "NotFound")


async def test_a_deleted_jobs_exports_go_with_it(client: httpx.AsyncClient) -> None:
    first = await new_job(client, eval_steps=1)
    await succeed(client, first)
    older = (await checkpoints(client, first))[1]
    await export(client, first, older["checkpoint"], model_name="shared-name")
    await advance(client, 200)
    exported = (await checkpoints(client, first))[1]["model_name"]
    assert (await client.delete(f"/api/v1/fine-tunes/{first}")).status_code == 200
    assert_error(await client.post("/api/v1/deployments", json={"model_name": exported}), 400, "InvalidParameter")
    second = await new_job(client, eval_steps=1)
    await succeed(client, second)
    again = await export(client, second, (await checkpoints(client, second))[1]["checkpoint"], model_name="shared-name")
    assert again.json()["output"] is True  # the display name is free again
