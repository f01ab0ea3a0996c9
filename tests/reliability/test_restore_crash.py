"""SIGKILL at moments spread over a restore, restarting on the same data each time: the server comes back with
the old state or the new one, whole (every listed file's content matches its MD5), never a mix or nothing,
and the restore's staging folder is gone."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from emulator.testing import EmulatorServer

pytestmark = [pytest.mark.live, pytest.mark.slow]

TENANTS = tuple(f"sk-restore-{n}" for n in range(2))
FILES_PER_TENANT = 25
FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.1)

State = dict[str, dict[str, str]]  # api key -> file id -> md5


def _line(tag: str, n: int) -> bytes:
    text = {"messages": [{"role": "user", "content": f"{tag} {n}"}, {"role": "assistant", "content": "ok " * 400}]}
    return (json.dumps(text) + "\n").encode() * 8


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _upload_all(api: httpx.Client, tag: str) -> None:
    for key in TENANTS:
        for n in range(FILES_PER_TENANT):
            files = {"files": (f"{tag}-{n}.jsonl", _line(tag, n))}
            response = api.post("/api/v1/files", files=files, data={"purpose": "fine-tune"}, headers=_auth(key))
            assert response.status_code == 200, response.text


def _state(api: httpx.Client, *, check_content: bool) -> State:
    out: State = {}
    for key in TENANTS:
        listed = api.get("/api/v1/files", params={"page_size": 100}, headers=_auth(key)).json()["data"]["files"]
        out[key] = {f["file_id"]: f["md5"] for f in listed}
        if check_content:
            for file_id, md5 in out[key].items():
                content = api.get(f"/api/v1/files/{file_id}/content", headers=_auth(key))
                assert (
                    content.status_code == 200
                    and base64.b64encode(hashlib.md5(content.content).digest()).decode() == md5
                ), file_id
    return out


def test_a_kill_during_restore_leaves_the_old_state_or_the_new(tmp_path: Path) -> None:
    server = EmulatorServer(workdir=tmp_path, seed=5)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as api:
            _upload_all(api, "a")
            snap_a = api.post("/_emulator/snapshot", json={"path": "a.tar"}).json()["path"]
            state_a = _state(api, check_content=False)
            api.post("/_emulator/reset")
            _upload_all(api, "b")
            snap_b = api.post("/_emulator/snapshot", json={"path": "b.tar"}).json()["path"]
            state_b = _state(api, check_content=False)
            assert state_a != state_b
            started = time.monotonic()
            assert api.post("/_emulator/restore", json={"path": snap_a}).status_code == 200
            duration = time.monotonic() - started
        current, outcomes = state_a, set()
        for round_no, fraction in enumerate(FRACTIONS):
            target, snap = (state_b, snap_b) if current is state_a else (state_a, snap_a)

            def restore(snap: str = snap) -> None:
                try:
                    httpx.post(f"{server.url}/_emulator/restore", json={"path": snap}, timeout=60)
                except httpx.HTTPError:
                    pass  # the kill cut it off

            caller = threading.Thread(target=restore)
            caller.start()
            time.sleep(duration * fraction)
            server.kill()
            caller.join(60)
            conn = sqlite3.connect(server.db_path)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
            server.start()
            with httpx.Client(base_url=server.url, timeout=60) as api:
                found = _state(api, check_content=True)
            assert found in (current, target), f"round {round_no}: neither the old state nor the new"
            outcomes.add("new" if found == target else "old")
            current = target if found == target else current
            assert not list((tmp_path / "files" / "tmp").glob("restore-*"))
        assert outcomes, "no round ran"
    finally:
        server.cleanup()
