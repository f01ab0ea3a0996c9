"""Restore is all or nothing: a snapshot is checked whole before live state is touched, and a refused one
changes nothing; crafted file rows never reach outside ``<data dir>/blobs``; leftovers of a crash go at start."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import DATASETS, AppFactory, assert_error, client_for
from tests.control.test_snapshot import build, world
from tests.fine_tunes.test_routes import upload_id

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(app_factory: AppFactory, tmp_path: Path) -> Starlette:
    return await app_factory(control_paths=(tmp_path,))


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _write(archive: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(archive, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(archive)


def _edit_db(data: bytes, tmp: Path, *statements: str) -> bytes:
    path = tmp / "edit.db"
    path.write_bytes(data)
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()
    out = path.read_bytes()
    path.unlink()
    return out


async def _good_snapshot(client: httpx.AsyncClient, tmp_path: Path) -> dict[str, bytes]:
    snap = (await client.post("/_emulator/snapshot", json={"path": str(tmp_path / "good.tar")})).json()
    return _members(Path(snap["path"]))


async def test_a_refused_snapshot_leaves_the_old_state_exactly(client: httpx.AsyncClient, tmp_path: Path) -> None:
    ids = await build(client)
    good = await _good_snapshot(client, tmp_path)
    before = await world(client)
    blob_name = next(name for name in good if name.startswith("blobs/"))
    manifest = json.loads(good["snapshot.json"])
    bad = {
        "garbage db": {**good, "emulator.db": os.urandom(8192)},
        "truncated db": {**good, "emulator.db": good["emulator.db"][: len(good["emulator.db"]) // 2]},
        "missing blob": {k: v for k, v in good.items() if k != blob_name},
        "short blob": {**good, blob_name: good[blob_name][:-3]},
        "blob count": {**good, "snapshot.json": json.dumps({**manifest, "blobs": 5}).encode()},
        "schema disagrees": {**good, "snapshot.json": json.dumps({**manifest, "schema_version": 0}).encode()},
        "time not a number": {**good, "snapshot.json": json.dumps({**manifest, "emulated_time": "soon"}).encode()},
        "rows that do not fit": {
            **good,
            "emulator.db": _edit_db(good["emulator.db"], tmp_path, "ALTER TABLE files RENAME TO files_gone"),
        },
    }
    for name, members in bad.items():
        response = await client.post("/_emulator/restore", json={"path": _write(tmp_path / "bad.tar", members)})
        assert_error(response, 400, "InvalidParameter")
        assert await world(client) == before, name
    content = await client.get(f"/api/v1/files/{ids['sft']}/content")
    assert content.content == (DATASETS / "sft_basic.jsonl").read_bytes()
    assert not any((Path(client._transport.app.state.rt.temp_dir)).iterdir())  # type: ignore[attr-defined]


async def test_file_rows_cannot_point_outside_the_blob_folder(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    file_id = await upload_id(client, DATASETS / "sft_basic.jsonl")
    good = await _good_snapshot(client, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("do not serve or delete me")
    rt = app.state.rt
    escape = os.path.relpath(victim, rt.data_dir)
    for blob in (escape, str(victim), "blobs/../../victim.txt", "emulator.db", "blobs/a/b/c"):
        crafted = {
            **good,
            "emulator.db": _edit_db(good["emulator.db"], tmp_path, f"UPDATE files SET blob = '{blob}'"),
        }
        response = await client.post("/_emulator/restore", json={"path": _write(tmp_path / "evil.tar", crafted)})
        assert_error(response, 400, "InvalidParameter")
    assert (await client.get(f"/api/v1/files/{file_id}/content")).status_code == 200
    assert (await client.delete(f"/api/v1/files/{file_id}")).status_code == 200
    assert victim.read_text() == "do not serve or delete me"


async def test_restored_blobs_live_under_the_blob_folder(
    app: Starlette, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    file_id = await upload_id(client, DATASETS / "sft_basic.jsonl")
    path = (await client.post("/_emulator/snapshot", json={"path": str(tmp_path / "s.tar")})).json()["path"]
    for _ in range(2):  # a restore of a restored state too
        assert (await client.post("/_emulator/restore", json={"path": path})).status_code == 200
        path = (await client.post("/_emulator/snapshot", json={"path": str(tmp_path / "s.tar")})).json()["path"]
    rt = app.state.rt
    [blob] = [row[0] for row in await rt.db.fetchall("SELECT blob FROM files")]
    assert (rt.data_dir / blob).resolve().is_relative_to(rt.blob_dir.resolve()) and blob.count("~") == 1
    assert [p.name for p in rt.blob_dir.glob("*/*")] == [Path(blob).name]  # the old blobs went
    content = await client.get(f"/api/v1/files/{file_id}/content")
    assert content.content == (DATASETS / "sft_basic.jsonl").read_bytes()


async def test_crash_leftovers_go_at_start(app_factory: AppFactory, tmp_path: Path) -> None:
    data = tmp_path / "files"
    (data / "tmp").mkdir(parents=True)
    (data / "snapshots").mkdir()
    stale = [
        data / "tmp" / "snapshot-999999-abc",  # a dead writer's work folder, with a hard-linked blob
        data / "tmp" / "restore-999999-def",
        data / "tmp" / "snapshot-k2j3h4",  # the old naming, without a PID
    ]
    for folder in stale:
        (folder / "blobs" / "ab").mkdir(parents=True)
        (folder / "blobs" / "ab" / "file-1").write_bytes(b"x" * 1000)
    part = data / "snapshots" / ".big.tar.gz.999999.part"
    part.write_bytes(b"y" * 5000)
    live = data / "tmp" / f"snapshot-{os.getppid()}-live"  # another live process's: spared
    live.mkdir()
    live_part = data / "snapshots" / f".other.tar.gz.{os.getppid()}.part"
    live_part.write_bytes(b"z")
    keep = data / "snapshots" / "kept.tar.gz"
    keep.write_bytes(b"a snapshot")
    app = await app_factory(data_dir=data)
    async with client_for(app) as client:
        assert (await client.get("/api/v1/files")).status_code == 200
    assert not any(folder.exists() for folder in stale) and not part.exists()
    assert live.exists() and live_part.exists() and keep.exists()
