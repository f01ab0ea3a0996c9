"""Paths the control plane touches: inside the data dir or a --control-path, regular files only, and an error
never quotes a file's content."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import DATASETS, AppFactory, assert_error, client_for
from tests.fine_tunes.test_routes import upload_id

pytestmark = pytest.mark.anyio
SECRET = "hunter2-do-not-echo"


async def test_paths_outside_the_data_dir_are_refused(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await upload_id(client, DATASETS / "sft_basic.jsonl")
    data_dir = app.state.rt.data_dir
    outside = tmp_path / "outside"
    outside.mkdir()
    (data_dir / "link").symlink_to(outside)  # a link inside the data dir that leads out
    for path in (str(outside / "w.tar.gz"), "../../outside/w.tar.gz", str(data_dir / "link" / "w.tar.gz")):
        body = assert_error(await client.post("/_emulator/snapshot", json={"path": path}), 403, "AccessDenied")
        assert "--control-path" in body["message"]
    assert not any(outside.iterdir())
    for path in ("/etc/passwd", "/dev/zero", str(data_dir / "link" / "x.tar")):
        assert_error(await client.post("/_emulator/restore", json={"path": path}), 403, "AccessDenied")
        assert_error(await client.post("/_emulator/seed", json={"path": path}), 403, "AccessDenied")
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 1
    inside = (await client.post("/_emulator/snapshot", json={"path": str(data_dir / "mine.tar")})).json()
    assert inside["path"] == str((data_dir / "mine.tar").resolve())


async def test_a_control_path_allows_more(app_factory: AppFactory, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    app = await app_factory(control_paths=(shared,))
    async with client_for(app) as client:
        await upload_id(client, DATASETS / "sft_basic.jsonl")
        snap = await client.post("/_emulator/snapshot", json={"path": str(shared / "w.tar")})
        assert snap.status_code == 200, snap.text
        assert (await client.post("/_emulator/restore", json={"path": str(shared / "w.tar")})).status_code == 200
        assert_error(
            await client.post("/_emulator/snapshot", json={"path": str(tmp_path / "w.tar")}), 403, "AccessDenied"
        )


async def test_special_files_are_refused_before_reading(app_factory: AppFactory, tmp_path: Path) -> None:
    """/dev/zero once hung the server eating memory; a FIFO would block the read forever."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    app = await app_factory(control_paths=(tmp_path, Path("/dev")))
    async with client_for(app) as client:
        with anyio.fail_after(10):
            for path in ("/dev/zero", str(fifo)):
                for route in ("/_emulator/restore", "/_emulator/seed"):
                    body = assert_error(await client.post(route, json={"path": path}), 400, "InvalidParameter")
                    assert "not a regular file" in body["message"]
            assert_error(await client.post("/_emulator/snapshot", json={"path": "/dev/null"}), 400, "InvalidParameter")


async def test_errors_never_quote_a_files_content(app_factory: AppFactory, tmp_path: Path) -> None:
    app = await app_factory(control_paths=(tmp_path,))
    cases = {
        "config.json": json.dumps({"password": SECRET, "tenants": [{"api_key": SECRET, "files": SECRET}]}),
        "extra.json": json.dumps({"tenants": [], SECRET: 1}),
        "wrong_type.json": json.dumps({"tenants": SECRET}),
        "passwd": f"root:x:0:0:{SECRET}:/root:/bin/bash\n",
        "array.json": json.dumps([SECRET]),
    }
    async with client_for(app) as client:
        for name, text in cases.items():
            (tmp_path / name).write_text(text)
            body = assert_error(
                await client.post("/_emulator/seed", json={"path": str(tmp_path / name)}), 400, "InvalidParameter"
            )
            assert SECRET not in body["message"] and "root:x" not in body["message"], (name, body["message"])
        (tmp_path / "snap.tar").write_text(f"root:x:0:0:{SECRET}\n")
        body = assert_error(
            await client.post("/_emulator/restore", json={"path": str(tmp_path / "snap.tar")}), 400, "InvalidParameter"
        )
        assert SECRET not in body["message"]


async def test_a_world_cannot_name_files_outside(app_factory: AppFactory, tmp_path: Path) -> None:
    worlds = tmp_path / "worlds"
    worlds.mkdir()
    app = await app_factory(control_paths=(worlds,))
    world = {"tenants": [{"api_key": "sk-w", "files": [{"name": "f", "path": "../secret.jsonl"}]}]}
    (tmp_path / "secret.jsonl").write_text('{"messages": []}\n')
    (worlds / "w.json").write_text(json.dumps(world))
    async with client_for(app) as client:
        assert_error(await client.post("/_emulator/seed", json={"path": str(worlds / "w.json")}), 403, "AccessDenied")
    async with client_for(app, "sk-w") as tenant:
        assert (await tenant.get("/api/v1/files")).json()["data"]["total"] == 0
