"""SSE on a real socket: lines arrive as the clock moves, heartbeats keep idle streams alive, the stream
closes exactly when the job is final, and a client that hangs up costs the server nothing."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.testing import EmulatorServer
from tests.conftest import DATASETS

pytestmark = pytest.mark.live
KEY = {"Authorization": "Bearer sk-stream"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, extra_args=("--heartbeat-seconds", "0.2", "--pending-seconds", "0")) as s:
        yield s


def new_job(server: EmulatorServer) -> str:
    with httpx.Client(base_url=server.url, headers=KEY) as client:
        files = [("files", ("sft.jsonl", (DATASETS / "sft_basic.jsonl").read_bytes()))]
        file_id = client.post("/api/v1/files", files=files).json()["data"]["uploaded_files"][0]["file_id"]
        body = {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": {"logging_steps": 1}}
        return str(client.post("/api/v1/fine-tunes", json=body).json()["output"]["job_id"])


def follow(server: EmulatorServer, job_id: str, out: queue.Queue[tuple[float, str]]) -> None:
    with httpx.stream("GET", f"{server.url}/api/v1/fine-tunes/{job_id}/stream", headers=KEY, timeout=30) as response:
        for line in response.iter_lines():
            out.put((time.monotonic(), line))
    out.put((time.monotonic(), "<closed>"))


def drain(out: queue.Queue[tuple[float, str]], seconds: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got.append(out.get(timeout=max(0.0, deadline - time.monotonic()))[1])
        except queue.Empty:
            break
    return got


def logs(server: EmulatorServer, job_id: str) -> list[str]:
    body: dict[str, Any] = httpx.get(f"{server.url}/api/v1/fine-tunes/{job_id}/logs?line=1000", headers=KEY).json()
    return list(body["output"]["logs"])


def test_lines_arrive_as_the_clock_moves_and_the_stream_closes_at_the_end(server: EmulatorServer) -> None:
    job_id = new_job(server)
    out: queue.Queue[tuple[float, str]] = queue.Queue()
    reader = threading.Thread(target=follow, args=(server, job_id, out), daemon=True)
    reader.start()
    first = drain(out, 1.0)
    assert any(line.startswith("data:") for line in first)
    assert ":" in first  # heartbeat comments while the frozen clock keeps the job idle
    before = sum(line.startswith("data:") for line in first)
    server.control("POST", "/_emulator/clock/advance", {"seconds": 20})
    later = drain(out, 1.0)
    assert sum(line.startswith("data:") for line in later) > 0 and "<closed>" not in later
    server.control("POST", "/_emulator/clock/advance", {"seconds": 3600})
    rest = drain(out, 5.0)
    assert rest[-1] == "<closed>"
    reader.join(5)
    streamed = [line[5:] for line in first + later + rest if line.startswith("data:")]
    assert streamed == logs(server, job_id) and len(streamed) > before
    ids = [int(line[3:]) for line in first + later + rest if line.startswith("id:")]
    assert ids == list(range(1, len(streamed) + 1))


def test_a_client_hanging_up_leaves_the_server_healthy(server: EmulatorServer) -> None:
    job_id = new_job(server)
    for _ in range(20):
        with httpx.stream("GET", f"{server.url}/api/v1/fine-tunes/{job_id}/stream", headers=KEY) as response:
            next(response.iter_lines())
    started = time.monotonic()
    health = httpx.get(f"{server.url}/_emulator/health").json()
    assert health["status"] == "ok" and health["internal_errors"] == 0
    assert time.monotonic() - started < 1.0


def test_unknown_job_is_a_json_404_before_any_stream(server: EmulatorServer) -> None:
    response = httpx.get(f"{server.url}/api/v1/fine-tunes/ft-000000000000-0000/stream", headers=KEY)
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
