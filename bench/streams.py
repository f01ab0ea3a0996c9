"""Streams: 200 concurrent SSE log streams on running jobs (one job per tenant, since a tenant trains one at a time).

The jobs are made RUNNING under a frozen clock, every stream is opened, then the clock is started so that
every job logs its way to the end within a few wall seconds.  Each stream's ``data:`` lines must be exactly its
job's log (``/logs``) in order: nothing lost, nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import HOST, ROOT, cpu_seconds, emulator, http_json, median, running, upload_bytes
from bench.fill import dataset

STREAMS = 200
WALL_SECONDS = 5.0  # how long the jobs' training should take in wall time once the clock runs
ROWS = 2000  # dataset rows and the hyper-parameters below: a few hundred log lines per job
HYPER_PARAMETERS = {"n_epochs": 3, "batch_size": 16, "logging_steps": 1, "eval_steps": 5}


def _prepare(base: str, index: int, data: bytes) -> tuple[str, str]:
    key = f"sk-bench-stream-{index}"
    headers = {"Authorization": f"Bearer {key}"}
    file_id = upload_bytes(base, "train.jsonl", data, api_key=key)
    job = http_json(
        "POST",
        base + "/api/v1/fine-tunes",
        {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": HYPER_PARAMETERS},
        headers=headers,
    )["output"]
    status = http_json("GET", f"{base}/api/v1/fine-tunes/{job['job_id']}", headers=headers)["output"]["status"]
    if status != "RUNNING":
        raise RuntimeError(f"job {job['job_id']} is {status}, not RUNNING")
    return key, job["job_id"]


def _run_once(workdir: Path, streams: int) -> dict[str, Any]:
    server = emulator(workdir, extra=("--pending-seconds", "0"))
    with running(server):
        assert server.process is not None
        data = dataset(ROWS)
        with ThreadPoolExecutor(8) as pool:
            jobs = list(pool.map(lambda i: _prepare(server.url, i, data), range(streams)))
        conn = sqlite3.connect(server.db_path)
        longest = conn.execute("SELECT max(json_extract(plan, '$.duration')) FROM fine_tunes").fetchone()[0]
        conn.close()
        scale = float(longest) / WALL_SECONDS
        spec = {
            "host": HOST,
            "port": server.port,
            "deadline": WALL_SECONDS * 6 + 30,
            "streams": [{"path": f"/api/v1/fine-tunes/{job_id}/stream", "api_key": key} for key, job_id in jobs],
        }
        client = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "sse_client.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert client.stdin is not None and client.stderr is not None
        client.stdin.write(json.dumps(spec))
        client.stdin.close()
        if client.stderr.readline().strip() != "READY":
            client.kill()
            raise RuntimeError(f"SSE client failed: {client.stderr.read()}")
        cpu0, t0 = cpu_seconds(server.process.pid), time.perf_counter()
        server.control("POST", "/_emulator/clock", {"time_scale": scale})
        client.stdin = None  # already sent and closed
        out, err = client.communicate(timeout=spec["deadline"] + 30)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(server.process.pid) - cpu0
        if client.returncode != 0:
            raise RuntimeError(f"SSE client failed: {err}")
        results = json.loads(out)
        server.control("POST", "/_emulator/clock", {"time_scale": 0})
        return _judge(server.url, jobs, results, elapsed, cpu, scale)


def _judge(
    base: str, jobs: list[tuple[str, str]], results: list[dict[str, Any]], elapsed: float, cpu: float, scale: float
) -> dict[str, Any]:
    events = starved = duplicated = wrong = unclosed = 0
    finish: list[float] = []
    gaps: list[float] = []
    for (key, job_id), result in zip(jobs, results, strict=True):
        if "error" in result:
            starved += 1
            continue
        logs = http_json(
            "GET",
            f"{base}/api/v1/fine-tunes/{job_id}/logs?offset=1&line=1000",
            headers={"Authorization": f"Bearer {key}"},
        )["output"]["logs"]
        got = result["data"]
        events += len(got)
        if len(got) < len(logs):
            starved += 1
        if len(set(result["ids"])) != len(result["ids"]):
            duplicated += 1
        if got != logs:
            wrong += 1
        if not result["closed"]:
            unclosed += 1
        times = result["times"]
        if times:
            finish.append(times[-1])
            gaps.append(max(b - a for a, b in zip(times, times[1:], strict=False)) if len(times) > 1 else 0.0)
    return {
        "streams": len(jobs),
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "server_cpu_s": cpu,
        "server_cpu_pct": 100 * cpu / elapsed,
        "time_scale": scale,
        "starved": starved,
        "duplicated": duplicated,
        "mismatched": wrong,
        "not_closed": unclosed,
        "max_gap_s": max(gaps, default=0.0),
        "finish_spread_s": (max(finish) - min(finish)) if finish else 0.0,
    }


def measure(workdir: Path, rounds: int = 3, streams: int = STREAMS) -> dict[str, Any]:
    runs = [_run_once(workdir / f"streams-{i}", streams) for i in range(rounds)]
    return {
        "streams": streams,
        "runs": runs,
        "events_per_s": median([r["events_per_s"] for r in runs]),
        "events": median([r["events"] for r in runs]),
        "seconds": median([r["seconds"] for r in runs]),
        "server_cpu_pct": median([r["server_cpu_pct"] for r in runs]),
        "max_gap_s": max(r["max_gap_s"] for r in runs),
        "starved": sum(r["starved"] for r in runs),
        "duplicated": sum(r["duplicated"] for r in runs),
        "mismatched": sum(r["mismatched"] for r in runs),
        "not_closed": sum(r["not_closed"] for r in runs),
    }
