"""Queue scale (issue 11): a tenant with many queued jobs must answer as fast as one with a hundred.

Worlds are built through the HTTP API under a frozen clock: N jobs created in one tenant (timed), then the clock
moved past the pending phase so one job runs and N-1 queue.  Measured side by side for a small and a large N:
create, status read of a queued job and a list page (p50, one connection); the clock advance that completes the
running job while the others wait; and a create in tenant B with 200 SSE streams open on queued jobs of the
large tenant, beside the same with none open.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import load
from bench.common import HOST, ROOT, emulator, http_json, median, running, upload_bytes
from bench.fill import dataset

SIZES = (100, 10_000)
SECONDS = 2.0
PENDING = 5.0
STREAMS = 200
STEP = 30.0  # emulated seconds per clock advance while waiting for the running job to finish
MAX_STEPS = 400


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create_body(file_id: str) -> bytes:
    return json.dumps({"model": "qwen-turbo", "training_file_ids": [file_id]}).encode()


def _fill(base: str, key: str, count: int) -> tuple[str, list[str], float]:
    """``count`` jobs created over HTTP (8 at a time); answers the file id, the job ids and the seconds it took."""
    file_id = upload_bytes(base, "train.jsonl", dataset(50), api_key=key)
    body = json.loads(_create_body(file_id))
    started = time.perf_counter()

    def one(_: int) -> str:
        return str(http_json("POST", base + "/api/v1/fine-tunes", body, headers=_auth(key))["output"]["job_id"])

    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(one, range(count)))
    return file_id, job_ids, time.perf_counter() - started


def _p50(url: str, key: str, rounds: int, body: bytes | None = None) -> float:
    runs = [load.run(url, seconds=SECONDS, connections=1, headers=_auth(key), body=body) for _ in range(rounds)]
    return median([r["p50_ms"] for r in runs])


def _timed_advance(server: Any, seconds: float) -> float:
    started = time.perf_counter()
    server.control("POST", "/_emulator/clock/advance", {"seconds": seconds})
    return (time.perf_counter() - started) * 1000


def _finish_one(server: Any, key: str, first: str) -> dict[str, float]:
    """Step the clock until the running (first) job ends; the advance that ended it, and a quiet one."""
    quiet: list[float] = []
    url = f"{server.url}/api/v1/fine-tunes/{first}"
    for _ in range(MAX_STEPS):
        took = _timed_advance(server, STEP)
        if http_json("GET", url, headers=_auth(key))["output"]["status"] in ("SUCCEEDED", "FAILED"):
            return {"completing_advance_ms": round(took, 2), "quiet_advance_p50_ms": round(median(quiet or [0]), 2)}
        quiet.append(took)
    raise RuntimeError(f"job {first} did not finish within {MAX_STEPS * STEP} emulated seconds")


def _streams_open(server: Any, key: str, job_ids: list[str]) -> subprocess.Popen[str]:
    spec = {
        "host": HOST,
        "port": server.port,
        "deadline": 600,
        "streams": [{"path": f"/api/v1/fine-tunes/{j}/stream", "api_key": key} for j in job_ids],
    }
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sse_client.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert client.stdin is not None and client.stderr is not None
    client.stdin.write(json.dumps(spec))
    client.stdin.close()
    client.stdin = None
    if client.stderr.readline().strip() != "READY":
        client.kill()
        client.wait(10)
        raise RuntimeError("SSE client failed to open its streams")
    return client


def _cross_tenant(server: Any, key: str, job_ids: list[str], rounds: int) -> dict[str, float]:
    """p50 of a create in a quiet tenant with no stream open, then with ``STREAMS`` open in the big tenant."""
    base = server.url
    quiet_file = upload_bytes(base, "train.jsonl", dataset(50), api_key="sk-bench-b1")
    busy_file = upload_bytes(base, "train.jsonl", dataset(50), api_key="sk-bench-b2")
    url = base + "/api/v1/fine-tunes"
    none: list[float] = []
    busy: list[float] = []
    for _ in range(rounds):  # interleaved, so that other work on the machine weighs on both alike
        none.append(_p50(url, "sk-bench-b1", 1, _create_body(quiet_file)))
        client = _streams_open(server, key, job_ids[1 : STREAMS + 1])
        try:
            busy.append(_p50(url, "sk-bench-b2", 1, _create_body(busy_file)))
        finally:
            client.kill()
            client.wait(10)
    return {"create_p50_ms_no_streams": median(none), "create_p50_ms_200_streams": median(busy)}


def _one_size(workdir: Path, size: int, rounds: int, streams: bool) -> dict[str, Any]:
    key = "sk-bench-queue"
    server = emulator(workdir, extra=("--pending-seconds", str(PENDING)))
    with running(server):
        file_id, job_ids, fill_seconds = _fill(server.url, key, size)
        advance_to_queued_ms = _timed_advance(server, PENDING + 1)
        queued = job_ids[len(job_ids) // 2]
        base = server.url + "/api/v1/fine-tunes"
        result: dict[str, Any] = {
            "create_all_seconds": round(fill_seconds, 2),
            "advance_to_queued_ms": round(advance_to_queued_ms, 2),
            "status_p50_ms": _p50(f"{base}/{queued}", key, rounds),
            "list_p50_ms": _p50(f"{base}?page_no=1&page_size=10", key, rounds),
        }
        result.update(_finish_one(server, key, job_ids[0]))
        if streams:
            result.update(_cross_tenant(server, key, job_ids, rounds))
        # last: every create adds a job to the queue
        result["create_p50_ms"] = _p50(base, key, rounds, _create_body(file_id))
    return result


def measure(workdir: Path, rounds: int = 3, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    by_size = {size: _one_size(workdir / f"backlog-{size}", size, rounds, streams=size == sizes[-1]) for size in sizes}
    small, large = by_size[sizes[0]], by_size[sizes[-1]]
    growth = {k: large[k] / small[k] for k in ("create_p50_ms", "status_p50_ms", "list_p50_ms") if small[k]}
    streams = large.get("create_p50_ms_200_streams", 0) / max(large.get("create_p50_ms_no_streams", 0), 1e-9)
    return {"sizes": {str(k): v for k, v in by_size.items()}, "p50_growth": growth, "streams_ratio": streams}


if __name__ == "__main__":
    import tempfile

    sizes = tuple(int(s) for s in sys.argv[1:]) or SIZES
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(Path(tmp), rounds=1, sizes=sizes), indent=2))
