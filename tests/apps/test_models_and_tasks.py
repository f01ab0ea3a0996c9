"""The models list and async tasks (batch text embedding) in-process, on a frozen clock."""

from __future__ import annotations

import asyncio
import gzip
import json
import math

import httpx
import pytest

from tests.conftest import API_KEY, AppFactory, Held, assert_error, client_for, upload

TEXT = "/api/v1/services/embeddings/text-embedding/text-embedding"
ASYNC = {"X-DashScope-Async": "enable"}


async def all_models(client: httpx.AsyncClient) -> list[dict[str, object]]:
    models: list[dict[str, object]] = []
    for page in range(1, 50):
        out = (await client.get("/api/v1/models", params={"page_no": page, "page_size": 100})).json()["output"]
        models += out["models"]
        if len(models) >= out["total"]:
            return models
    raise AssertionError("the models list does not end")


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    assert (await client.post("/_emulator/clock/advance", json={"seconds": seconds})).status_code == 200


@pytest.mark.anyio
async def test_models_list_get_and_paging(client: httpx.AsyncClient) -> None:
    first = (await client.get("/api/v1/models", params={"page_no": 1, "page_size": 1})).json()
    assert list(first) == ["request_id", "output"]
    out = first["output"]
    assert out["page_no"] == 1 and out["page_size"] == 1 and len(out["models"]) == 1 and out["total"] > 40
    item = out["models"][0]
    assert {"model", "source", "provider", "opensource", "capabilities"} <= set(item) and item["source"] == "dashscope"
    names = [m["model"] for m in await all_models(client)]
    assert len(names) == len(set(names)) and {"qwen-plus", "text-embedding-v4", "gte-rerank-v2"} <= set(names)
    one = (
        await client.get("/api/v1/models", params={"model": "text-embedding-v4", "page_no": 1, "page_size": 1})
    ).json()
    assert one["output"]["models"][0]["capabilities"] == ["text-embedding", "batch"] and one["output"]["total"] == 1
    none = (await client.get("/api/v1/models", params={"model": "nope"})).json()["output"]
    assert none["models"] == [] and none["total"] == 0
    path = (await client.get("/api/v1/models/qwen-plus")).json()["output"]
    assert path["model"] == "qwen-plus" and "text-generation" in path["capabilities"]
    assert_error(await client.get("/api/v1/models/nope"), 404, "ModelNotFound")
    assert_error(await client_for(client._transport.app, None).get("/api/v1/models"), 401, "InvalidApiKey")  # type: ignore[attr-defined]


async def _input_file(client: httpx.AsyncClient, lines: list[str]) -> str:
    response = await upload(client, ("texts.txt", "\n".join(lines).encode()), purpose="file-extract")
    file_id = response.json()["data"]["uploaded_files"][0]["file_id"]
    return f"http://localhost/api/v1/files/{file_id}/content"


@pytest.mark.anyio
async def test_batch_embedding_task_lifecycle(client: httpx.AsyncClient) -> None:
    url = await _input_file(client, ["the cat sat", "", "the cat sat on the mat", "量子"])
    body = {"model": "text-embedding-async-v2", "input": {"url": url}, "parameters": {"text_type": "query"}}
    created = (await client.post(TEXT, json=body, headers=ASYNC)).json()
    task_id = created["output"]["task_id"]
    assert created["output"]["task_status"] == "PENDING"
    pending = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]
    assert pending["task_status"] == "PENDING" and "scheduled_time" not in pending and len(pending["submit_time"]) == 23
    await advance(client, 2)
    running = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]
    assert running["task_status"] == "RUNNING" and "scheduled_time" in running and "end_time" not in running
    refused = await client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert assert_error(refused, 400, "UnsupportedOperation")["message"].startswith("Failed to cancel the task")
    await advance(client, 10)
    done = (await client.get(f"/api/v1/tasks/{task_id}")).json()
    assert done["output"]["task_status"] == "SUCCEEDED" and done["usage"]["total_tokens"] > 0
    url = done["output"]["url"]
    assert "_output_" in url and "Signature=" in url
    result = await client.get(url.replace("http://localhost", ""), headers={"Authorization": ""})
    assert result.status_code == 200 and result.headers["content-type"] == "application/gzip"
    lines = [json.loads(line) for line in gzip.decompress(result.content).decode().splitlines()]
    assert [line["output"]["text_index"] for line in lines] == [0, 1, 2, 3]
    assert lines[1]["output"]["code"] == 400 and lines[0]["output"]["code"] == 200
    a, c = lines[0]["output"]["embedding"], lines[2]["output"]["embedding"]
    assert (
        len(a) == 1536
        and abs(math.sqrt(sum(x * x for x in a)) - 1) < 1e-4
        and sum(x * y for x, y in zip(a, c, strict=True)) > 0.5
    )
    forged = await client.get(url.split("Signature=")[0] + "Signature=0000")
    assert forged.status_code == 403 and forged.text.startswith("<?xml")
    listed = (await client.get("/api/v1/tasks", params={"page_size": 5})).json()
    assert (
        listed["total"] == 1 and listed["data"][0]["task_id"] == task_id and listed["data"][0]["status"] == "SUCCEEDED"
    )
    assert {"end_time", "gmt_create", "start_time", "user_api_unique_key"} <= set(listed["data"][0])
    assert (await client.get("/api/v1/tasks/", params={"status": "RUNNING"})).json()["total"] == 0
    other = client_for(client._transport.app, "sk-other-tenant")  # type: ignore[attr-defined]
    unknown = (await other.get(f"/api/v1/tasks/{task_id}")).json()["output"]
    assert unknown == {"task_id": task_id, "task_status": "UNKNOWN"}
    await advance(client, 25 * 3600)
    assert (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]["task_status"] == "UNKNOWN"


@pytest.mark.anyio
async def test_cancel_and_failures(client: httpx.AsyncClient) -> None:
    url = await _input_file(client, ["one", "two"])
    body = {"model": "text-embedding-async-v1", "input": {"url": url}}
    task_id = (await client.post(TEXT, json=body, headers=ASYNC)).json()["output"]["task_id"]
    cancelled = await client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert cancelled.status_code == 200 and list(cancelled.json()) == ["request_id"]
    await advance(client, 60)
    assert (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]["task_status"] == "CANCELED"
    outside = {"model": "text-embedding-async-v1", "input": {"url": "https://example.com/texts.txt"}}
    failed_id = (await client.post(TEXT, json=outside, headers=ASYNC)).json()["output"]["task_id"]
    await advance(client, 60)
    failed = (await client.get(f"/api/v1/tasks/{failed_id}")).json()["output"]
    assert failed["task_status"] == "FAILED" and failed["code"] == "InvalidURL"
    inline = {"model": "text-embedding-async-v1", "input": {"url": "data:text/plain,hello%0Aworld"}}
    inline_id = (await client.post(TEXT, json=inline, headers=ASYNC)).json()["output"]["task_id"]
    await advance(client, 60)
    assert (await client.get(f"/api/v1/tasks/{inline_id}")).json()["output"]["task_status"] == "SUCCEEDED"
    sync_model = await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"url": url}}, headers=ASYNC)
    assert_error(sync_model, 403, "AccessDenied")
    assert_error(await client.post("/api/v1/tasks/nope/cancel"), 400, "UnsupportedOperation")
    window = await client.get("/api/v1/tasks", params={"start_time": "20240101000000", "end_time": "20240103000000"})
    assert_error(window, 400, "InvalidParameter")


@pytest.mark.anyio
async def test_tenant_models_include_fine_tunes(client: httpx.AsyncClient, sft_line: bytes) -> None:
    response = await upload(client, ("train.jsonl", sft_line * 20))
    file_id = response.json()["data"]["uploaded_files"][0]["file_id"]
    job = (await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]})).json()
    await advance(client, 48 * 3600)
    output = (await client.get(f"/api/v1/fine-tunes/{job['output']['job_id']}")).json()["output"]
    assert output["status"] == "SUCCEEDED"
    found = (await client.get("/api/v1/models", params={"model": output["finetuned_output"]})).json()["output"]
    assert found["models"][0]["source"] == "custom" and found["models"][0]["base_model"] == "qwen-turbo"
    assert (await all_models(client))[-1]["model"] == output["finetuned_output"]
    assert API_KEY


@pytest.mark.anyio
async def test_a_second_worker_starting_leaves_a_task_being_written_to_the_first(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker process resumes the unfinished tasks when it starts; one whose result another process is writing
    (its lock held) is left to it, so no two write one result file."""
    from emulator import worklock
    from emulator.tasks import service as task_service

    writing = Held(monkeypatch, task_service, "write_result")
    first = await app_factory()
    async with client_for(first) as client:
        url = await _input_file(client, ["the cat sat", "on the mat"])
        body = {"model": "text-embedding-async-v2", "input": {"url": url}}
        task_id = (await client.post(TEXT, json=body, headers=ASYNC)).json()["output"]["task_id"]
        assert await asyncio.to_thread(writing.called)
        tasks = first.state.services.tasks
        assert worklock.claim(tasks._lock_path(task_id)) is None  # held while its result is written
        second = await app_factory()  # the same database and data directory: its start resumes unfinished tasks
        resumed = second.state.services
        assert resumed._built("tasks") and task_id not in resumed.tasks._work  # it looked, and left it
        writing.release()
        await advance(client, 30)
        done = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]
        assert done["task_status"] == "SUCCEEDED"
