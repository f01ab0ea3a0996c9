"""``serve --workers 2``: uvicorn worker processes on one SQLite database behave as one server.

The same script gives the same answers from one worker and from two; a tenant's queue still trains one job
at a time whichever worker reads it; and the emulated clock, moved through one worker, reads the same through
both.  Which worker answered a connection is read from /proc (the server side of the socket belongs to
exactly one worker), so the tests know that both took part.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import EmulatorServer
from tests.conftest import DATASETS

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to tell workers apart"),
]

KEY = "sk-workers"
START = 1728705300.0
ARGS = ("--pending-seconds", "0", "--start-time", str(START))
SLOT = {"RUNNING", "CANCELING"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}


def call(
    server: EmulatorServer, method: str, path: str, body: Any = None, *, files: bytes | None = None, key: str = KEY
) -> tuple[int, Any, int | None]:
    """One request on a fresh connection: (status, parsed body, pid of the worker that answered)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Authorization": f"Bearer {key}"}
    payload = None
    if files is not None:
        boundary = "workersboundary"
        payload = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="train.jsonl"\r\n\r\n'.encode()
            + files
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        pid = _worker_of(server, conn.sock.getsockname()[1]) if conn.sock is not None else None
        return response.status, json.loads(raw) if raw else None, pid
    finally:
        conn.close()


def _worker_of(server: EmulatorServer, client_port: int) -> int | None:
    """The server process holding the accepted socket of the connection from ``client_port``."""
    local = f"0100007F:{server.port:04X}"
    remote = f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
    if inode is None:
        return None
    for pid in _tree(server):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def _tree(server: EmulatorServer) -> list[int]:
    assert server.process is not None
    root = server.process.pid
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == root:
                pids.append(int(entry))
    return pids


def _scrub(value: Any) -> Any:
    """Request ids differ from run to run by design; everything else must match."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"http://127\.0\.0\.1:\d+", "http://HOST", value)
    return value


def script(server: EmulatorServer) -> list[tuple[int, Any]]:
    """A little of everything, in order: uploads good and bad, jobs, queue, cancel, the clock, logs, delete."""
    out: list[tuple[int, Any]] = []

    def step(method: str, path: str, body: Any = None, files: bytes | None = None) -> Any:
        status, answer, _ = call(server, method, path, body, files=files)
        out.append((status, _scrub(answer)))
        return answer

    file_id = step("POST", "/api/v1/files", files=(DATASETS / "sft_basic.jsonl").read_bytes())["data"][
        "uploaded_files"
    ][0]["file_id"]
    step("POST", "/api/v1/files", files=(DATASETS / "bad_role.jsonl").read_bytes())
    step("GET", "/api/v1/files")
    jobs = [
        step("POST", "/api/v1/fine-tunes", {"model": "qwen-turbo", "training_file_ids": [file_id]})["output"]["job_id"]
        for _ in range(3)
    ]
    step("GET", "/api/v1/fine-tunes")
    step("POST", f"/api/v1/fine-tunes/{jobs[1]}/cancel")
    step("POST", "/api/v1/fine-tunes", {"model": "no-such-model", "training_file_ids": [file_id]})
    for seconds in (60, 600, 3600, 86400):
        step("POST", "/_emulator/clock/advance", {"seconds": seconds})
        step("GET", "/api/v1/fine-tunes?page_size=100")
    step("GET", f"/api/v1/fine-tunes/{jobs[0]}/logs?offset=1&line=1000")
    step("DELETE", f"/api/v1/fine-tunes/{jobs[1]}")
    step("GET", f"/api/v1/fine-tunes/{jobs[1]}")
    step("GET", "/api/v1/fine-tunes")
    return out


@pytest.fixture(scope="module")
def two_workers() -> Iterator[EmulatorServer]:
    with EmulatorServer(seed=5, extra_args=(*ARGS, "--workers", "2"), start_timeout=60) as server:
        yield server


def test_two_workers_give_the_same_answers_as_one(two_workers: EmulatorServer) -> None:
    with EmulatorServer(seed=5, extra_args=ARGS) as one:
        expected = script(one)
    assert script(two_workers) == expected


def test_the_queue_runs_one_job_per_tenant_across_workers(two_workers: EmulatorServer) -> None:
    key = "sk-workers-queue"
    status, body, _ = call(
        two_workers, "POST", "/api/v1/files", files=(DATASETS / "sft_basic.jsonl").read_bytes(), key=key
    )
    file_id = body["data"]["uploaded_files"][0]["file_id"]
    created = [
        call(
            two_workers, "POST", "/api/v1/fine-tunes", {"model": "qwen-turbo", "training_file_ids": [file_id]}, key=key
        )[1]["output"]["job_id"]
        for _ in range(4)
    ]
    finished: list[str] = []
    seen: set[int] = set()
    for _ in range(200):
        with ThreadPoolExecutor(3) as pool:
            reads = list(
                pool.map(lambda _: call(two_workers, "GET", "/api/v1/fine-tunes?page_size=100", key=key), range(3))
            )
        for status, body, pid in reads:
            assert status == 200
            seen.add(pid or 0)
            statuses = {job["job_id"]: job["status"] for job in body["output"]["jobs"]}
            assert sum(s in SLOT for s in statuses.values()) <= 1, statuses
            if "QUEUING" in statuses.values():
                assert sum(s in SLOT for s in statuses.values()) == 1, statuses
            finished += [j for j in created if statuses[j] in TERMINAL and j not in finished]
        if len(finished) == len(created):
            break
        call(two_workers, "POST", "/_emulator/clock/advance", {"seconds": 20})
    assert finished == created  # first come, first served, one at a time
    assert len(seen - {0}) == 2, f"reads landed on {seen}"


def _spread(server: EmulatorServer, method: str, path: str) -> list[tuple[int, Any, int | None]]:
    """Batches of concurrent connections until both workers have answered (idle workers race for each accept,
    and one of them may win most races, so sequential requests alone can all land on the same one)."""
    readings: list[tuple[int, Any, int | None]] = []
    with ThreadPoolExecutor(8) as pool:
        for _ in range(25):
            readings += pool.map(lambda _: call(server, method, path), range(8))
            if len({r[2] for r in readings} - {None}) == 2:
                break
    return readings


def test_the_clock_agrees_across_workers(two_workers: EmulatorServer) -> None:
    for seconds in (1.5, 3600, 0.25):
        _, moved, _ = call(two_workers, "POST", "/_emulator/clock/advance", {"seconds": seconds})
        readings = _spread(two_workers, "GET", "/_emulator/clock")
        assert {r[1]["now"] for r in readings} == {moved["now"]}
        assert len({r[2] for r in readings} - {None}) == 2, "every read landed on one worker"
