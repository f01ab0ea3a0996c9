"""Fine-tunes in-process, on a frozen clock moved by /_emulator/clock/advance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATASETS, AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

JOB_ID = re.compile(r"^ft-\d{12}-[0-9a-f]{4}$")
SEED_HP = {
    "n_epochs": 1,
    "batch_size": 16,
    "learning_rate": "1.6e-5",
    "split": 0.9,
    "warmup_ratio": 0.0,
    "eval_steps": 1,
}


async def upload_id(client: httpx.AsyncClient, path: Path) -> str:
    body = (await upload(client, path)).json()["data"]
    assert body["uploaded_files"], body
    return str(body["uploaded_files"][0]["file_id"])


async def create(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/fine-tunes", json=body)


async def new_job(client: httpx.AsyncClient, file_id: str, **extra: Any) -> dict[str, Any]:
    response = await create(client, model=extra.pop("model", "qwen-turbo"), training_file_ids=[file_id], **extra)
    assert response.status_code == 200, response.text
    return response.json()["output"]  # type: ignore[no-any-return]


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    assert (await client.post("/_emulator/clock/advance", json={"seconds": seconds})).status_code == 200


async def status(client: httpx.AsyncClient, job_id: str) -> str:
    return str((await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]["status"])


async def run_to_end(client: httpx.AsyncClient, job_id: str, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        job = (await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return job  # type: ignore[no-any-return]
        await advance(client, 600)
    raise AssertionError(f"{job_id} did not finish")


@pytest.fixture
async def sft(client: httpx.AsyncClient) -> str:
    return await upload_id(client, DATASETS / "sft_basic.jsonl")


async def test_create_answers_the_seed_shape(client: httpx.AsyncClient, sft: str) -> None:
    response = await create(
        client, model="qwen-turbo", training_file_ids=[sft], hyper_parameters=SEED_HP, training_type="sft"
    )
    body = response.json()
    assert set(body) == {"request_id", "output"}
    job = body["output"]
    assert JOB_ID.match(job["job_id"]) and job["job_name"] == job["job_id"]
    assert job["status"] == "PENDING" and job["model"] == job["base_model"] == "qwen-turbo"
    assert job["training_file_ids"] == [sft] and job["validation_file_ids"] == []
    assert job["hyper_parameters"] == SEED_HP  # echoed exactly as sent, strings stay strings
    assert job["training_type"] == "sft" and job["group"] == "llm"
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", job["create_time"])
    assert job["user_identity"] == job["creator"] == job["modifier"]
    assert "finetuned_output" not in job and "end_time" not in job and "code" not in job


async def test_a_job_runs_to_success_with_output_and_usage(client: httpx.AsyncClient, sft: str) -> None:
    job_id = (await new_job(client, sft, hyper_parameters=SEED_HP))["job_id"]
    await advance(client, 5)
    assert await status(client, job_id) == "RUNNING"
    done = await run_to_end(client, job_id)
    assert done["status"] == "SUCCEEDED"
    assert done["finetuned_output"] == f"qwen-turbo-{job_id}"
    assert done["usage"] > 0 and done["end_time"] >= done["create_time"]


async def test_default_training_type_is_sft_and_suffix_names_the_output(client: httpx.AsyncClient, sft: str) -> None:
    job = await new_job(client, sft, finetuned_output_suffix="ads")
    assert job["training_type"] == "sft"
    done = await run_to_end(client, job["job_id"])
    assert done["finetuned_output"] == f"qwen-turbo-ads-{job['job_id']}"


async def test_continued_training_from_a_finetuned_model(client: httpx.AsyncClient, sft: str) -> None:
    first = await run_to_end(client, (await new_job(client, sft))["job_id"])
    second = await new_job(client, sft, model=first["finetuned_output"])
    assert second["model"] == first["finetuned_output"] and second["base_model"] == "qwen-turbo"
    assert (await run_to_end(client, second["job_id"]))["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({}, "model"),
        ({"model": ""}, "model"),
        ({"model": "qwen-turbo"}, "Missing training files"),
        ({"model": "qwen-turbo", "training_file_ids": []}, "Missing training files"),
        ({"model": "qwen-turbo", "training_file_ids": 5}, "training_file_ids"),
        ({"model": "gpt-4", "training_file_ids": ["x"]}, "Model not exist"),
        ({"model": "qwen-max", "training_file_ids": ["x"]}, "Model not exist"),
        ({"model": "qwen-turbo", "training_file_ids": ["no-such-file"]}, "File not found"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "training_type": "rlhf"}, "training_type"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": {"n_epochs": 0}}, "n_epochs"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": {"n_epochs": 1.5}}, "n_epochs"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": {"n_epochs": True}}, "n_epochs"),
        (
            {"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": {"learning_rate": "fast"}},
            "learning_rate",
        ),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": {"split": 1.5}}, "split"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "hyper_parameters": []}, "hyper_parameters"),
        ({"model": "qwen-turbo", "training_file_ids": ["{sft}"], "validation_file_ids": ["missing"]}, "File not found"),
    ],
)
async def test_create_validation(client: httpx.AsyncClient, sft: str, body: dict[str, Any], fragment: str) -> None:
    filled = {
        k: ([x.replace("{sft}", sft) for x in v] if isinstance(v, list) and v and isinstance(v[0], str) else v)
        for k, v in body.items()
    }
    error = assert_error(await create(client, **filled), 400, "InvalidParameter")
    assert fragment in error["message"]
    assert (await client.get("/api/v1/fine-tunes")).json()["output"]["total"] == 0


async def test_numeric_strings_from_the_1_20_cli_are_accepted(client: httpx.AsyncClient, sft: str) -> None:
    hp = {
        "n_epochs": 1,
        "batch_size": 16,
        "learning_rate": 1.6e-05,
        "split": "0.9",
        "warmup_ratio": "0.0",
        "eval_steps": "1",
    }
    job = await new_job(client, sft, hyper_parameters=hp, validation_file_ids=[])
    assert job["hyper_parameters"] == hp


async def test_malformed_json_and_wrong_body_types(client: httpx.AsyncClient) -> None:
    bad = await client.post("/api/v1/fine-tunes", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "InvalidParameter")
    assert_error(await client.post("/api/v1/fine-tunes", json=[1, 2]), 400, "InvalidParameter")
    assert_error(await client.post("/api/v1/fine-tunes", content=b""), 400, "InvalidParameter")


async def test_dataset_kind_must_suit_the_method(client: httpx.AsyncClient, sft: str) -> None:
    dpo = await upload_id(client, DATASETS / "dpo_basic.jsonl")
    image = await upload_id(client, DATASETS / "image_sft.zip")
    other = (await upload(client, ("notes.txt", b"x"), purpose="file-extract")).json()["data"]["uploaded_files"][0]
    cases = [
        ({"training_file_ids": [sft], "training_type": "dpo_full", "model": "qwen2-7b-instruct"}, "DPO rows"),
        ({"training_file_ids": [dpo], "training_type": "sft"}, "SFT rows"),
        ({"training_file_ids": [image], "training_type": "sft"}, "vision models"),
        ({"training_file_ids": [other["file_id"]]}, "not uploaded as a fine-tune dataset"),
    ]
    for extra, fragment in cases:
        body = {"model": "qwen-turbo", **extra}
        assert fragment in assert_error(await create(client, **body), 400, "InvalidParameter")["message"]
    assert (await new_job(client, dpo, model="qwen2-7b-instruct", training_type="dpo_lora"))["status"] == "PENDING"
    assert (await new_job(client, image, model="qwen-vl-plus"))["status"] == "PENDING"


async def test_files_of_another_tenant_are_not_found(app: Any, sft: str) -> None:
    async with client_for(app, "someone-else") as other:
        error = assert_error(await create(other, model="qwen-turbo", training_file_ids=[sft]), 400, "InvalidParameter")
    assert "File not found" in error["message"]


async def test_unsupported_method_fails_the_job_by_default(client: httpx.AsyncClient) -> None:
    dpo = await upload_id(client, DATASETS / "dpo_basic.jsonl")
    job = await new_job(client, dpo, model="qwen-turbo", training_type="dpo_full")
    done = await run_to_end(client, job["job_id"])
    assert done["status"] == "FAILED" and "finetuned_output" not in done
    assert "dpo_full" in done["message"] and "sft, efficient_sft" in done["message"]
    logs = (await client.get(f"/api/v1/fine-tunes/{job['job_id']}/logs")).json()["output"]["logs"]
    assert any("ERROR" in line and "not supported" in line for line in logs)


async def test_strict_mode_refuses_the_unsupported_method_at_create(app_factory: AppFactory) -> None:
    app = await app_factory(strict=True)
    async with client_for(app) as client:
        dpo = await upload_id(client, DATASETS / "dpo_basic.jsonl")
        error = assert_error(
            await create(client, model="qwen-turbo", training_file_ids=[dpo], training_type="dpo_full"),
            400,
            "InvalidParameter",
        )
    assert "does not support" in error["message"]


async def test_all_rows_over_max_length_fail_the_job(client: httpx.AsyncClient) -> None:
    long_rows = await upload_id(client, DATASETS / "sft_long_rows.jsonl")
    partly = await run_to_end(
        client, (await new_job(client, long_rows, hyper_parameters={"max_length": 512}))["job_id"]
    )
    assert partly["status"] == "SUCCEEDED"
    logs = (await client.get(f"/api/v1/fine-tunes/{partly['job_id']}/logs?line=1000")).json()["output"]["logs"]
    assert any("dropped" in line for line in logs)
    none = await run_to_end(client, (await new_job(client, long_rows, hyper_parameters={"max_length": 8}))["job_id"])
    assert none["status"] == "FAILED" and "max_length" in none["message"]


async def test_one_running_job_per_tenant_first_come_first_served(app: Any, sft: str) -> None:
    async with client_for(app) as a, client_for(app, "tenant-b") as b:
        first = (await new_job(a, sft))["job_id"]
        second = (await new_job(a, sft))["job_id"]
        other_file = await upload_id(b, DATASETS / "sft_basic.jsonl")
        other = (await new_job(b, other_file))["job_id"]
        await advance(a, 6)
        assert [await status(a, first), await status(a, second), await status(b, other)] == [
            "RUNNING",
            "QUEUING",
            "RUNNING",
        ]
        await run_to_end(a, first)
        assert await status(a, second) in ("RUNNING", "SUCCEEDED")
        listed = (await a.get("/api/v1/fine-tunes")).json()["output"]
        assert sum(j["status"] == "RUNNING" for j in listed["jobs"]) <= 1


async def test_cancel_at_each_state(client: httpx.AsyncClient, sft: str) -> None:
    pending = (await new_job(client, sft))["job_id"]
    cancel = await client.post(f"/api/v1/fine-tunes/{pending}/cancel")
    assert cancel.json()["output"] == {"status": "success"}
    assert await status(client, pending) == "CANCELED"

    running = (await new_job(client, sft))["job_id"]
    queued = (await new_job(client, sft))["job_id"]
    await advance(client, 6)
    assert [await status(client, running), await status(client, queued)] == ["RUNNING", "QUEUING"]
    await client.post(f"/api/v1/fine-tunes/{queued}/cancel")
    assert await status(client, queued) == "CANCELED"
    await client.post(f"/api/v1/fine-tunes/{running}/cancel")
    assert await status(client, running) == "CANCELING"
    again = await client.post(f"/api/v1/fine-tunes/{running}/cancel")
    assert again.status_code == 200
    await advance(client, 30)
    job = (await client.get(f"/api/v1/fine-tunes/{running}")).json()["output"]
    assert job["status"] == "CANCELED" and "code" not in job and "end_time" in job
    for finished in (pending, running):
        error = assert_error(await client.post(f"/api/v1/fine-tunes/{finished}/cancel"), 400, "UnsupportedOperation")
        assert "cannot be canceled" in error["message"]
    assert_error(await client.post("/api/v1/fine-tunes/ft-000000000000-0000/cancel"), 404, "NotFound")


async def test_delete_only_when_finished(client: httpx.AsyncClient, sft: str) -> None:
    job_id = (await new_job(client, sft))["job_id"]
    assert_error(await client.delete(f"/api/v1/fine-tunes/{job_id}"), 400, "UnsupportedOperation")
    await advance(client, 6)
    error = assert_error(await client.delete(f"/api/v1/fine-tunes/{job_id}"), 400, "UnsupportedOperation")
    assert "RUNNING" in error["message"]
    await run_to_end(client, job_id)
    deleted = await client.delete(f"/api/v1/fine-tunes/{job_id}")
    assert deleted.json()["output"] == {"status": "success"}
    body = assert_error(await client.get(f"/api/v1/fine-tunes/{job_id}"), 404, "NotFound")
    assert body["message"] == "Not found!"
    assert (await client.get("/api/v1/fine-tunes")).json()["output"]["total"] == 0


async def test_list_pages_newest_first_and_filters_by_model(client: httpx.AsyncClient, sft: str) -> None:
    ids = [(await new_job(client, sft, model=m))["job_id"] for m in ("qwen-turbo", "qwen-7b-chat", "qwen-turbo")]
    page = (await client.get("/api/v1/fine-tunes?page_size=2")).json()["output"]
    assert page["total"] == 3 and page["page_no"] == 1 and page["page_size"] == 2
    assert [j["job_id"] for j in page["jobs"]] == [ids[2], ids[1]]
    filtered = (await client.get("/api/v1/fine-tunes?model=qwen-7b-chat")).json()["output"]
    assert filtered["total"] == 1 and filtered["jobs"][0]["job_id"] == ids[1]


async def test_logs_paging_offset_zero_and_one_both_start_at_line_one(client: httpx.AsyncClient, sft: str) -> None:
    job_id = (await run_to_end(client, (await new_job(client, sft, hyper_parameters=SEED_HP))["job_id"]))["job_id"]
    url = f"/api/v1/fine-tunes/{job_id}/logs"
    everything = (await client.get(url, params={"offset": 0, "line": 1000})).json()["output"]
    assert everything == (await client.get(url, params={"offset": 1, "line": 1000})).json()["output"]
    total, logs = everything["total"], everything["logs"]
    assert total == len(logs) > 10
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - INFO - ", logs[0])
    assert logs[-1].endswith("##FT_COMPLETE##")
    page2 = (await client.get(url, params={"offset": 6, "line": 5})).json()["output"]
    assert page2 == {"total": total, "logs": logs[5:10]}
    beyond = (await client.get(url, params={"offset": total + 5})).json()["output"]
    assert beyond == {"total": total, "logs": []}
    assert (await client.get(url, params={"line": 5000})).json()["output"]["logs"] == logs
    for bad in ({"offset": -1}, {"line": 0}, {"offset": "x"}):
        assert_error(await client.get(url, params=bad), 400, "InvalidParameter")
    assert_error(await client.get("/api/v1/fine-tunes/ft-x/logs"), 404, "NotFound")


async def test_logs_grow_with_the_clock(client: httpx.AsyncClient, sft: str) -> None:
    job_id = (await new_job(client, sft, hyper_parameters={"logging_steps": 1}))["job_id"]
    seen = []
    for _ in range(8):
        seen.append((await client.get(f"/api/v1/fine-tunes/{job_id}/logs?line=1000")).json()["output"]["total"])
        await advance(client, 15)
    assert seen == sorted(seen) and seen[-1] > seen[0]


async def test_stream_of_a_finished_job_sends_every_line_then_closes(client: httpx.AsyncClient, sft: str) -> None:
    job_id = (await run_to_end(client, (await new_job(client, sft))["job_id"]))["job_id"]
    logs = (await client.get(f"/api/v1/fine-tunes/{job_id}/logs?line=1000")).json()["output"]["logs"]
    response = await client.get(f"/api/v1/fine-tunes/{job_id}/stream", headers={"Accept": "application/json"})
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    assert data == logs
    assert_error(await client.get("/api/v1/fine-tunes/ft-nope/stream"), 404, "NotFound")


async def test_restart_resumes_running_and_queuing_jobs(app_factory: AppFactory, settings_factory: Any) -> None:
    first = await app_factory()
    async with client_for(first) as client:
        sft = await upload_id(client, DATASETS / "sft_basic.jsonl")
        running, queued = (await new_job(client, sft))["job_id"], (await new_job(client, sft))["job_id"]
        await advance(client, 6)
        assert [await status(client, running), await status(client, queued)] == ["RUNNING", "QUEUING"]
    from emulator.app import create_app

    second = create_app(settings_factory())
    async with second.router.lifespan_context(second), client_for(second) as client:
        assert [await status(client, running), await status(client, queued)] == ["RUNNING", "QUEUING"]
        done = [await run_to_end(client, j) for j in (running, queued)]
        assert [d["status"] for d in done] == ["SUCCEEDED", "SUCCEEDED"]
        assert (await client.get("/api/v1/fine-tunes")).json()["output"]["total"] == 2


async def test_same_seed_same_calls_same_ids_and_logs(tmp_path: Path) -> None:
    from emulator.app import create_app
    from emulator.settings import Settings

    async def world(name: str) -> tuple[list[str], list[str]]:
        app = create_app(Settings(db=str(tmp_path / f"{name}.db"), data_dir=tmp_path / name, time_scale=0, seed=42))
        async with app.router.lifespan_context(app), client_for(app) as client:
            sft = await upload_id(client, DATASETS / "sft_basic.jsonl")
            job = await run_to_end(client, (await new_job(client, sft))["job_id"])
            logs = (await client.get(f"/api/v1/fine-tunes/{job['job_id']}/logs?line=1000")).json()["output"]["logs"]
            return [sft, job["job_id"], job["finetuned_output"]], logs

    assert await world("a") == await world("b")
