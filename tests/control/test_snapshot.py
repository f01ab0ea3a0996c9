"""Snapshot and restore: a known world written to one archive and brought back, in the same or another server."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import DATASETS, AppFactory, assert_error, client_for
from tests.fine_tunes.test_routes import advance, new_job, run_to_end, status, upload_id

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(app_factory: AppFactory, tmp_path: Path) -> Starlette:
    """These tests write archives to tmp_path: allowed as a --control-path."""
    return await app_factory(control_paths=(tmp_path,))


async def world(client: httpx.AsyncClient) -> dict[str, Any]:
    files = (await client.get("/api/v1/files")).json()["data"]["files"]
    jobs = (await client.get("/api/v1/fine-tunes")).json()["output"]["jobs"]
    clock = (await client.get("/_emulator/clock")).json()["now"]
    return {
        "files": [(f["file_id"], f["name"], f["md5"]) for f in files],
        "jobs": [(j["job_id"], j["status"]) for j in jobs],
        "clock": clock,
    }


async def build(client: httpx.AsyncClient) -> dict[str, str]:
    sft = await upload_id(client, DATASETS / "sft_basic.jsonl")
    done = (await new_job(client, sft))["job_id"]
    await run_to_end(client, done)
    running = (await new_job(client, sft))["job_id"]
    await advance(client, 6)
    assert await status(client, running) == "RUNNING"
    return {"sft": sft, "done": done, "running": running}


async def test_restore_brings_back_rows_blobs_and_the_clock(client: httpx.AsyncClient, tmp_path: Path) -> None:
    ids = await build(client)
    before = await world(client)
    snap = (await client.post("/_emulator/snapshot", json={"path": str(tmp_path / "w.tar.gz")})).json()
    assert snap["path"] == str(tmp_path / "w.tar.gz") and snap["blobs"] == 1 and snap["size"] > 0
    assert snap["emulated_time"] == before["clock"]

    await client.delete(f"/api/v1/files/{ids['sft']}")  # blob gone
    await upload_id(client, DATASETS / "dpo_basic.jsonl")
    await advance(client, 86400)
    assert await status(client, ids["running"]) == "SUCCEEDED"

    restored = await client.post("/_emulator/restore", json={"path": snap["path"]})
    assert restored.status_code == 200, restored.text
    assert await world(client) == before
    assert await status(client, ids["running"]) == "RUNNING"
    content = await client.get(f"/api/v1/files/{ids['sft']}/content")
    assert content.content == (DATASETS / "sft_basic.jsonl").read_bytes()
    await run_to_end(client, ids["running"])  # the restored world moves on as usual
    new = await upload_id(client, DATASETS / "sft_multiturn.jsonl")
    assert new not in {f[0] for f in before["files"]}


async def test_another_server_starts_from_the_snapshot(app_factory: AppFactory, tmp_path: Path) -> None:
    first = await app_factory(db=str(tmp_path / "one.db"), data_dir=tmp_path / "one")
    async with client_for(first) as client:
        await build(client)
        before = await world(client)
        path = (await client.post("/_emulator/snapshot", json={})).json()["path"]
    assert Path(path).parent == tmp_path / "one" / "snapshots" and path.endswith(".tar.gz")
    second = await app_factory(
        db=str(tmp_path / "two.db"), data_dir=tmp_path / "two", seed=99, control_paths=(tmp_path,)
    )
    async with client_for(second) as client:
        assert (await client.post("/_emulator/restore", json={"path": path})).status_code == 200
        assert await world(client) == before
        logs = (await client.get(f"/api/v1/fine-tunes/{before['jobs'][0][0]}/logs")).json()["output"]
        assert logs["total"] > 0


async def test_relative_paths_and_plain_tar(client: httpx.AsyncClient) -> None:
    await upload_id(client, DATASETS / "sft_basic.jsonl")
    snap = (await client.post("/_emulator/snapshot", json={"path": "known.tar"})).json()
    assert snap["path"].endswith("/snapshots/known.tar")
    with tarfile.open(snap["path"]) as tar:
        assert tar.getnames()[:2] == ["snapshot.json", "emulator.db"]
    await client.post("/_emulator/reset")
    assert (await client.post("/_emulator/restore", json={"path": "known.tar"})).status_code == 200
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 1


def _tar(path: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


async def test_bad_snapshots_are_refused_and_change_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    await upload_id(client, DATASETS / "sft_basic.jsonl")
    manifest = json.dumps({"format": 1, "schema_version": 1, "emulated_time": 0}).encode()
    newer = json.dumps({"format": 1, "schema_version": 999, "emulated_time": 0}).encode()
    (tmp_path / "junk").write_bytes(b"not a tar")
    cases = [
        str(tmp_path / "missing.tar"),
        str(tmp_path / "junk"),
        str(tmp_path),
        _tar(tmp_path / "evil.tar", {"snapshot.json": manifest, "emulator.db": b"", "../evil": b"x"}),
        _tar(tmp_path / "nodb.tar", {"snapshot.json": manifest}),
        _tar(tmp_path / "newer.tar", {"snapshot.json": newer, "emulator.db": b""}),
        "bad\x00name",
    ]
    for path in cases:
        assert_error(await client.post("/_emulator/restore", json={"path": path}), 400, "InvalidParameter")
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 1
    assert not (tmp_path.parent / "evil").exists()


async def test_snapshot_target_errors_are_400(client: httpx.AsyncClient, tmp_path: Path) -> None:
    for path in [str(tmp_path / "no" / "such" / "dir.tar.gz"), str(tmp_path), "sub/dir.tar", "x" * 300]:
        assert_error(await client.post("/_emulator/snapshot", json={"path": path}), 400, "InvalidParameter")
    assert_error(await client.post("/_emulator/restore", json={}), 400, "InvalidParameter")
