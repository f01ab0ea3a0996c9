"""50 clients at once against a live server: uploading, creating, cancelling and deleting across 5 tenants.

Small quotas make the uploads race for the last slots.  Throughout: never a 5xx (so never "database is locked"
surfacing), every error in the error model, quotas never over-admitted and never more than one job holding a
tenant's training slot at any read.  At the end the totals match what was acknowledged.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from emulator.testing import EmulatorServer
from tests.conftest import DATASETS

pytestmark = [pytest.mark.live, pytest.mark.slow]

CLIENTS = 50
TENANTS = 5
OPS_PER_CLIENT = 10
DEADLINE_SECONDS = 40.0
MAX_FILES = 4
SMALL = (DATASETS / "sft_basic.jsonl").read_bytes()
LARGE = (DATASETS / "sft_long_rows.jsonl").read_bytes()
MAX_BYTES = 2 * len(LARGE) + len(SMALL)  # three large files never fit; the count quota binds on small ones
SLOT = {"RUNNING", "CANCELING"}


@dataclass
class Ledger:
    """What the server acknowledged, per tenant, and every breach seen along the way."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    files: dict[str, set[str]] = field(default_factory=dict)
    jobs: dict[str, set[str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # uploads refused by a quota, by code
    breaches: list[str] = field(default_factory=list)

    def breach(self, text: str) -> None:
        with self.lock:
            self.breaches.append(text)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    args = ("--pending-seconds", "0", "--max-tenant-files", str(MAX_FILES), "--max-tenant-bytes", str(MAX_BYTES))
    with EmulatorServer(time_scale=1200.0, extra_args=args) as s:
        yield s


def _check(response: httpx.Response, ledger: Ledger, what: str) -> dict[str, Any]:
    with ledger.lock:
        ledger.statuses[response.status_code] += 1
    if response.status_code >= 500:
        ledger.breach(f"{what}: {response.status_code} {response.text[:300]}")
        return {}
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        if not (body.get("request_id") and body.get("code") and body.get("message")):
            ledger.breach(f"{what}: error outside the model: {body}")
        if "locked" in str(body.get("message", "")).lower():
            ledger.breach(f"{what}: {body}")
    return body


def _read_invariants(client: httpx.Client, key: str, ledger: Ledger) -> None:
    jobs = _check(client.get("/api/v1/fine-tunes", params={"page_size": 100}), ledger, "list jobs")
    if jobs:
        statuses = [job["status"] for job in jobs["output"]["jobs"]]
        holders = sum(status in SLOT for status in statuses)
        if holders > 1 or ("QUEUING" in statuses and holders != 1):
            ledger.breach(f"{key}: slot holders {holders} among {statuses}")
    files = _check(client.get("/api/v1/files", params={"page_size": 100}), ledger, "list files")
    if files:
        listed = files["data"]["files"]
        if files["data"]["total"] > MAX_FILES or sum(f["size"] for f in listed) > MAX_BYTES:
            ledger.breach(f"{key}: quota over-admitted: {len(listed)} files, {sum(f['size'] for f in listed)} B")


def _upload(client: httpx.Client, key: str, ledger: Ledger, rng: random.Random) -> None:
    content = rng.choice((SMALL, LARGE))
    body = _check(client.post("/api/v1/files", files=[("files", ("train.jsonl", content))]), ledger, "upload")
    with ledger.lock:
        for uploaded in body.get("data", {}).get("uploaded_files", []):
            ledger.files[key].add(uploaded["file_id"])
        for failed in body.get("data", {}).get("failed_uploads", []):
            ledger.refused[failed["code"]] += 1


def _create(client: httpx.Client, key: str, ledger: Ledger, rng: random.Random) -> None:
    with ledger.lock:
        owned = sorted(ledger.files[key])
    if not owned:
        return _upload(client, key, ledger, rng)
    body = _check(
        client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [rng.choice(owned)]}),
        ledger,
        "create job",
    )
    if "output" in body:
        with ledger.lock:
            ledger.jobs[key].add(body["output"]["job_id"])
    return None


def _pick(ledger: Ledger, kind: str, key: str, rng: random.Random) -> str | None:
    with ledger.lock:
        owned = sorted(getattr(ledger, kind)[key])
    return rng.choice(owned) if owned else None


def _cancel(client: httpx.Client, key: str, ledger: Ledger, rng: random.Random) -> None:
    job_id = _pick(ledger, "jobs", key, rng)
    if job_id:
        _check(client.post(f"/api/v1/fine-tunes/{job_id}/cancel"), ledger, "cancel")


def _delete_job(client: httpx.Client, key: str, ledger: Ledger, rng: random.Random) -> None:
    job_id = _pick(ledger, "jobs", key, rng)
    if job_id and _check(client.delete(f"/api/v1/fine-tunes/{job_id}"), ledger, "delete job").get("output"):
        with ledger.lock:
            ledger.jobs[key].discard(job_id)


def _delete_file(client: httpx.Client, key: str, ledger: Ledger, rng: random.Random) -> None:
    file_id = _pick(ledger, "files", key, rng)
    if file_id:
        response = client.delete(f"/api/v1/files/{file_id}")
        if _check(response, ledger, "delete file") and response.status_code == 200:
            with ledger.lock:
                ledger.files[key].discard(file_id)


OPERATIONS = (_upload, _upload, _create, _create, _cancel, _delete_job, _delete_file)


def _client(server: EmulatorServer, index: int, ledger: Ledger, start: threading.Barrier, until: float) -> None:
    rng = random.Random(index)
    key = f"sk-reliability-{index % TENANTS}"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        start.wait()
        for _ in range(OPS_PER_CLIENT):
            if time.monotonic() > until:
                return
            try:
                rng.choice(OPERATIONS)(client, key, ledger, rng)
                _read_invariants(client, key, ledger)
            except httpx.HTTPError as exc:
                ledger.breach(f"{key}: {exc!r}")


def test_fifty_clients_never_break_quotas_the_queue_or_the_totals(server: EmulatorServer) -> None:
    ledger = Ledger(
        files={f"sk-reliability-{t}": set() for t in range(TENANTS)},
        jobs={f"sk-reliability-{t}": set() for t in range(TENANTS)},
    )
    start = threading.Barrier(CLIENTS)
    until = time.monotonic() + DEADLINE_SECONDS
    threads = [
        threading.Thread(target=_client, args=(server, i, ledger, start, until), daemon=True) for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS + 30)
    assert not any(thread.is_alive() for thread in threads)
    assert ledger.breaches == []
    assert ledger.statuses[200] > CLIENTS and not any(code >= 500 for code in ledger.statuses)
    assert ledger.refused["BadRequest.TooMany"] > 0  # the quota was really raced for
    for key in ledger.files:
        headers = {"Authorization": f"Bearer {key}"}
        files = httpx.get(f"{server.url}/api/v1/files", params={"page_size": 100}, headers=headers).json()["data"]
        assert {f["file_id"] for f in files["files"]} == ledger.files[key] and files["total"] == len(ledger.files[key])
        jobs = httpx.get(f"{server.url}/api/v1/fine-tunes", params={"page_size": 100}, headers=headers).json()
        assert {j["job_id"] for j in jobs["output"]["jobs"]} == ledger.jobs[key]
        assert jobs["output"]["total"] == len(ledger.jobs[key])
    assert server.control("GET", "/_emulator/health")["internal_errors"] == 0
