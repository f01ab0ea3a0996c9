"""The control plane on the new resources: faults, the journal, seed determinism, reset, snapshot and restore."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import AppFactory, client_for

TEXT = "/api/v1/services/embeddings/text-embedding/text-embedding"
RERANK = "/compatible-api/v1/reranks"
BATCHES = "/compatible-mode/v1/batches"
FILES = "/compatible-mode/v1/files"


async def _batch(client: httpx.AsyncClient) -> dict[str, object]:
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}}  # fmt: skip
    upload = await client.post(
        FILES, files={"file": ("in.jsonl", json.dumps(line).encode())}, data={"purpose": "batch"}
    )
    body = {"input_file_id": upload.json()["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    return dict((await client.post(BATCHES, json=body)).json())


@pytest.mark.anyio
async def test_faults_and_journal_cover_the_new_endpoints(client: httpx.AsyncClient) -> None:
    rule = {"path": RERANK, "method": "POST", "status": 429, "code": "Throttling", "count": 1}
    assert (await client.post("/_emulator/faults", json=rule)).status_code == 200
    body = {"model": "qwen3-rerank", "query": "q", "documents": ["d"]}
    faulted = await client.post(RERANK, json=body)
    assert faulted.status_code == 429 and faulted.json()["error"]["type"] == "rate_limit_error"
    assert (await client.post(RERANK, json=body)).status_code == 200
    await client.post("/_emulator/faults", json={"path": TEXT, "status": 503, "count": 1})
    refused = await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x"]}})
    assert refused.status_code == 503 and refused.json()["code"] == "ServiceUnavailable"
    seen = (await client.get("/_emulator/requests", params={"path": RERANK})).json()["requests"]
    assert [r["status"] for r in seen] == [200, 429]
    assert seen[0]["body"]["model"] == "qwen3-rerank"


@pytest.mark.anyio
async def test_seeded_ids_and_vectors_repeat(app_factory: AppFactory, tmp_path: Path) -> None:
    seen = []
    for run in range(2):
        app = await app_factory(db=str(tmp_path / f"run{run}.db"), data_dir=tmp_path / f"files{run}", seed=11)
        async with client_for(app) as client:
            batch = await _batch(client)
            task = await client.post(
                TEXT,
                json={"model": "text-embedding-async-v1", "input": {"url": "data:text/plain,a"}},
                headers={"X-DashScope-Async": "enable"},
            )
            vec = (await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x y"]}})).json()
            seen.append((batch["id"], batch["input_file_id"], task.json()["output"]["task_id"], vec["output"]))
    assert seen[0] == seen[1]


@pytest.mark.anyio
async def test_reset_snapshot_and_restore(client: httpx.AsyncClient, tmp_path: Path) -> None:
    batch = await _batch(client)
    await client.post("/_emulator/clock/advance", json={"seconds": 60})
    done = (await client.get(f"{BATCHES}/{batch['id']}")).json()
    assert done["status"] == "completed"
    snap = (await client.post("/_emulator/snapshot", json={"path": "apps.tar.gz"})).json()
    removed = (await client.post("/_emulator/reset", json={"api_key": "sk-test-tenant-a"})).json()
    assert (await client.get(f"{BATCHES}/{batch['id']}")).status_code == 404
    assert "batches" in json.dumps(removed)
    assert (await client.post("/_emulator/restore", json={"path": snap["path"]})).status_code == 200
    back = (await client.get(f"{BATCHES}/{batch['id']}")).json()
    assert back["status"] == "completed" and back["output_file_id"] == done["output_file_id"]
    content = await client.get(f"{FILES}/{done['output_file_id']}/content")
    assert content.status_code == 200 and json.loads(content.text.splitlines()[0])["custom_id"] == "1"


@pytest.mark.anyio
async def test_snapshots_carry_task_results(client: httpx.AsyncClient) -> None:
    """A SUCCEEDED task's result file is in the snapshot: after a reset and a restore the task's signed URL serves
    the same bytes, and again after a second round (a restore replaces the result of the same task it restored)."""
    body = {"model": "text-embedding-async-v1", "input": {"url": "data:text/plain,first%0Asecond"}}
    made = await client.post(TEXT, json=body, headers={"X-DashScope-Async": "enable"})
    task_id = made.json()["output"]["task_id"]
    await client.post("/_emulator/clock/advance", json={"seconds": 60})
    url = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    before = await client.get("/" + path)
    assert before.status_code == 200 and len(before.content) > 20
    snap = (await client.post("/_emulator/snapshot", json={"path": "tasks.tar.gz"})).json()
    await client.post("/_emulator/reset", json={})
    assert (await client.get("/" + path)).status_code == 403  # gone: its signature names no task
    for _ in range(2):
        assert (await client.post("/_emulator/restore", json={"path": snap["path"]})).status_code == 200
        assert (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]["url"] == url
        after = await client.get("/" + path)
        assert after.status_code == 200 and after.content == before.content


@pytest.mark.anyio
@pytest.mark.parametrize("answered", [False, True])
async def test_a_batch_snapshotted_before_the_clock_finishes_it_completes_after_a_restore(
    client: httpx.AsyncClient, answered: bool
) -> None:
    """Under a frozen clock a batch's lines are answered at once and its files cut when the clock passes its end: a
    snapshot taken in between, restored (after a reset), still ends with every line answered."""
    batch = await _batch(client)
    if answered:  # checked and answered (the worker's results written), its files not cut yet
        await client.post("/_emulator/clock/advance", json={"seconds": 1.5})
        await asyncio.sleep(0.3)
        assert (await client.get(f"{BATCHES}/{batch['id']}")).json()["status"] == "in_progress"
    snap = (await client.post("/_emulator/snapshot", json={"path": "early.tar.gz"})).json()
    await client.post("/_emulator/reset", json={})
    assert (await client.post("/_emulator/restore", json={"path": snap["path"]})).status_code == 200
    await client.post("/_emulator/clock/advance", json={"seconds": 60})
    done = (await client.get(f"{BATCHES}/{batch['id']}")).json()
    assert done["status"] == "completed" and done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}
    content = await client.get(f"{FILES}/{done['output_file_id']}/content")
    assert json.loads(content.text.splitlines()[0])["custom_id"] == "1"


@pytest.mark.anyio
async def test_a_task_snapshotted_while_its_result_is_written_finishes_after_a_restore(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A task of 10,000 lines is still being written when the snapshot is taken (the snapshot holds the database
    while it copies, so the task cannot store its outcome meanwhile): the snapshot keeps its input, and after a reset
    and a restore the task is written again and serves a result of every line."""
    import gzip
    import tarfile

    lines = "\n".join(f"line {i} of the input" for i in range(10_000)).encode()
    uploaded = await client.post(
        "/api/v1/files", files=[("files", ("in.txt", lines))], data={"purpose": "file-extract"}
    )
    file_id = uploaded.json()["data"]["uploaded_files"][0]["file_id"]
    url = f"http://localhost/api/v1/files/{file_id}/content"
    body = {"model": "text-embedding-async-v1", "input": {"url": url}}
    made = await client.post(TEXT, json=body, headers={"X-DashScope-Async": "enable"})
    task_id = made.json()["output"]["task_id"]
    snap = (await client.post("/_emulator/snapshot", json={"path": "running.tar.gz"})).json()
    with tarfile.open(snap["path"]) as tar:
        manifest = json.loads(tar.extractfile("snapshot.json").read())  # type: ignore[union-attr]
    assert manifest["task_inputs"] == 1 and manifest["results"] == 0  # caught while its result was written
    await client.post("/_emulator/reset", json={})
    assert (await client.post("/_emulator/restore", json={"path": snap["path"]})).status_code == 200
    await client.post("/_emulator/clock/advance", json={"seconds": 600})
    output = (await client.get(f"/api/v1/tasks/{task_id}")).json()["output"]
    assert output["task_status"] == "SUCCEEDED", output
    result = await client.get("/" + output["url"].split("://", 1)[1].split("/", 1)[1])
    assert result.status_code == 200 and len(gzip.decompress(result.content).splitlines()) == 10_000
