"""SIGKILL at a random moment of a mixed workload, 20 times over, restarting on the same database each time.

After every kill: the database passes ``PRAGMA integrity_check``.  After every restart: every acknowledged
upload and job is there, every listed file's blob is whole (size and MD5 as listed), no ``tmp/*.part`` is
left, and jobs go on from where the clock says.  The moments come from a seeded generator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from emulator.testing import EmulatorServer

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROUNDS = 20
SEED = 20241012
TENANTS = ("sk-crash-a", "sk-crash-b", "sk-crash-c")
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}
SLOT = {"RUNNING", "CANCELING"}


def _dataset(rows: int) -> bytes:
    line = {
        "messages": [
            {"role": "user", "content": "Name a prime number above {n}."},
            {"role": "assistant", "content": "The next prime after {n} is worth looking up."},
        ]
    }
    text = json.dumps(line)
    return "".join(text.replace("{n}", str(i)) + "\n" for i in range(rows)).encode()


SMALL = _dataset(20)
LARGE = _dataset(40_000)  # a few MB: long enough to parse and check that a kill often lands mid-upload


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    files: dict[str, str] = field(default_factory=dict)  # file_id -> api key, acknowledged
    jobs: dict[str, str] = field(default_factory=dict)  # job_id -> api key, acknowledged
    partials_seen: int = 0  # rounds whose kill left a .part behind (the crash hit an upload)
    kills_mid_upload: int = 0


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _work(url: str, key: str, seed: int, ledger: Ledger, stop: threading.Event) -> None:
    """Upload, create and cancel until the server dies under us; only complete answers count as acknowledged."""
    rng = random.Random(seed)
    try:
        with httpx.Client(base_url=url, headers=_headers(key), timeout=10) as client:
            for _ in range(50):
                if stop.is_set():
                    return
                choice = rng.random()
                if choice < 0.45:
                    content = LARGE if rng.random() < 0.4 else SMALL
                    body = client.post("/api/v1/files", files=[("files", ("train.jsonl", content))]).json()
                    with ledger.lock:
                        for item in body["data"]["uploaded_files"]:
                            ledger.files[item["file_id"]] = key
                    continue
                with ledger.lock:
                    files = sorted(f for f, k in ledger.files.items() if k == key)
                    jobs = sorted(j for j, k in ledger.jobs.items() if k == key)
                if choice < 0.8 and files:
                    body = client.post(
                        "/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [rng.choice(files)]}
                    ).json()
                    with ledger.lock:
                        ledger.jobs[body["output"]["job_id"]] = key
                elif jobs:
                    client.post(f"/api/v1/fine-tunes/{rng.choice(jobs)}/cancel")
    except (httpx.HTTPError, KeyError, ValueError):
        return  # the kill cut this request: it was never acknowledged


def _check_after_kill(db: Path, data_dir: Path, ledger: Ledger) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    if list((data_dir / "tmp").glob("*.part")):
        ledger.partials_seen += 1


def _check_after_restart(server: EmulatorServer, data_dir: Path, ledger: Ledger, hashed: set[str]) -> None:
    assert list((data_dir / "tmp").glob("*.part")) == []
    conn = sqlite3.connect(server.db_path)
    rows = conn.execute("SELECT file_id, size, md5, blob FROM files").fetchall()
    conn.close()
    for file_id, size, md5, blob in rows:
        path = data_dir / blob
        assert path.stat().st_size == size, f"{file_id}: blob of {path.stat().st_size} B listed as {size} B"
        if file_id not in hashed:  # each blob is hashed once, the round it first appears
            assert base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode() == md5
            hashed.add(file_id)
    for key in TENANTS:
        assert {f for f, k in ledger.files.items() if k == key} <= _all_files(server, key)
        jobs = _all_jobs(server, key)
        assert {j for j, k in ledger.jobs.items() if k == key} <= set(jobs)
        assert sum(status in SLOT for status in jobs.values()) <= 1


def _all_files(server: EmulatorServer, key: str) -> set[str]:
    files: set[str] = set()
    for page in range(1, 100):
        data = httpx.get(
            f"{server.url}/api/v1/files", params={"page_no": page, "page_size": 100}, headers=_headers(key)
        ).json()["data"]
        files |= {f["file_id"] for f in data["files"]}
        if len(files) >= data["total"] or not data["files"]:
            return files
    raise AssertionError("too many pages")


def _all_jobs(server: EmulatorServer, key: str) -> dict[str, str]:
    jobs: dict[str, str] = {}
    for page in range(1, 100):
        out = httpx.get(
            f"{server.url}/api/v1/fine-tunes", params={"page_no": page, "page_size": 100}, headers=_headers(key)
        ).json()["output"]
        jobs.update({j["job_id"]: j["status"] for j in out["jobs"]})
        if len(jobs) >= out["total"] or not out["jobs"]:
            return jobs
    raise AssertionError("too many pages")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    s = EmulatorServer(
        workdir=tmp_path, time_scale=300.0, extra_args=("--pending-seconds", "0", "--max-tenant-files", "10000")
    )
    yield s
    s.stop()


def test_sigkill_at_random_moments_loses_nothing_acknowledged(server: EmulatorServer) -> None:
    rng = random.Random(SEED)
    ledger = Ledger()
    data_dir = server.workdir / "files"
    hashed: set[str] = set()
    for round_no in range(ROUNDS):
        server.start()
        _check_after_restart(server, data_dir, ledger, hashed)
        stop = threading.Event()
        workers = [
            threading.Thread(target=_work, args=(server.url, key, rng.randrange(2**32), ledger, stop), daemon=True)
            for key in TENANTS
        ]
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(0.05, 0.6))
        server.kill()
        stop.set()
        for worker in workers:
            worker.join(15)
        assert not any(w.is_alive() for w in workers), f"round {round_no}: a client hung after the kill"
        _check_after_kill(server.db_path, data_dir, ledger)
    server.start()
    _check_after_restart(server, data_dir, ledger, hashed)
    assert ledger.jobs and ledger.files
    server.control("POST", "/_emulator/clock/advance", {"seconds": 30 * 86400})
    for key in TENANTS:  # jobs resume: a month later every acknowledged job has finished
        jobs = _all_jobs(server, key)
        assert all(jobs[j] in TERMINAL for j, k in ledger.jobs.items() if k == key), jobs
    assert server.control("GET", "/_emulator/health")["internal_errors"] == 0
    print(
        f"crash rounds: {ROUNDS}, kills that left a .part: {ledger.partials_seen}, files {len(ledger.files)}, "
        f"jobs {len(ledger.jobs)}"
    )
