"""Request overhead: the emulator's two hottest reads against a bare Starlette app, side by side (goal: ratio >= 0.7).

One emulator (a tenant with a RUNNING job and a full page of 10 files) and one bare app (``bench/bare.py``,
answering the very bytes the emulator answers) run at once; each round loads the four targets one after
the other, so a burst from another process on this shared machine hits both sides of a pair alike.  The
ratio is taken per round (emulator req/s over the bare app's in the same round), then the median.
Server CPU per request (from /proc) is reported too: it is far less sensitive to a busy machine than req/s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import load
from bench.common import AUTH, BareServer, cpu_seconds, emulator, http_json, median, running, upload_bytes
from bench.fill import dataset

SECONDS = 3.0
CONNECTIONS = 8
QUEUED = 100  # issue 11: the status read of a tenant with 100 queued jobs
QUEUE_AUTH = {"Authorization": "Bearer sk-bench-queued"}


def _measure(url: str, pid: int, headers: dict[str, str]) -> dict[str, Any]:
    before = cpu_seconds(pid)
    result = load.run(url, seconds=SECONDS, connections=CONNECTIONS, headers=headers)
    result["cpu_us_per_req"] = (cpu_seconds(pid) - before) / max(result["requests"], 1) * 1e6
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: median([r[key] for r in runs]) for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")} | {
        "errors": sum(r["errors"] for r in runs)
    }


def _queued_job(base: str) -> str:
    """A tenant with ``QUEUED`` jobs: one running, the rest queued behind it; answers a queued one's URL."""
    file_id = upload_bytes(base, "train.jsonl", dataset(20), api_key="sk-bench-queued")
    body = {"model": "qwen-turbo", "training_file_ids": [file_id]}
    ids = [
        http_json("POST", base + "/api/v1/fine-tunes", body, headers=QUEUE_AUTH)["output"]["job_id"]
        for _ in range(QUEUED)
    ]
    url = f"{base}/api/v1/fine-tunes/{ids[QUEUED // 2]}"
    assert http_json("GET", url, headers=QUEUE_AUTH)["output"]["status"] == "QUEUING"
    return url


def measure(workdir: Path, rounds: int = 5) -> dict[str, Any]:
    server = emulator(workdir / "emulator", extra=("--pending-seconds", "0"))
    with running(server):
        assert server.process is not None
        file_ids = [upload_bytes(server.url, f"train-{i}.jsonl", dataset(20)) for i in range(10)]
        job = http_json(
            "POST", server.url + "/api/v1/fine-tunes", {"model": "qwen-turbo", "training_file_ids": file_ids[:1]}
        )["output"]
        job_url = f"{server.url}/api/v1/fine-tunes/{job['job_id']}"
        files_url = f"{server.url}/api/v1/files"
        queued_url = _queued_job(server.url)
        payloads = {
            "job": http_json("GET", job_url),
            "files": http_json("GET", files_url),
            "job_queued": http_json("GET", queued_url, headers=QUEUE_AUTH),
        }
        assert payloads["job"]["output"]["status"] == "RUNNING"
        with BareServer(payloads, workdir) as bare:
            assert bare.process is not None
            targets = {
                "bare_job": (f"{bare.url}/job", bare.process.pid, {}),
                "job": (job_url, server.process.pid, AUTH),
                "bare_files": (f"{bare.url}/files", bare.process.pid, {}),
                "files": (files_url, server.process.pid, AUTH),
                "bare_job_queued": (f"{bare.url}/job_queued", bare.process.pid, {}),
                "job_queued": (queued_url, server.process.pid, QUEUE_AUTH),
            }
            for url, _, headers in targets.values():  # warm both sides up
                load.run(url, seconds=1, connections=CONNECTIONS, headers=headers)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, (url, pid, headers) in targets.items():
                    runs[name].append(_measure(url, pid, headers))
    out: dict[str, Any] = {"tool": load.tool(), "rounds": rounds, "seconds": SECONDS, "connections": CONNECTIONS}
    for name in ("job", "files", "job_queued"):
        ratios = [e["rps"] / b["rps"] for e, b in zip(runs[name], runs[f"bare_{name}"], strict=True)]
        cpu_ratios = [
            b["cpu_us_per_req"] / e["cpu_us_per_req"] for e, b in zip(runs[name], runs[f"bare_{name}"], strict=True)
        ]
        out[name] = {
            "emulator": _summary(runs[name]),
            "bare": _summary(runs[f"bare_{name}"]),
            "ratio": median(ratios),
            "ratios": ratios,
            "cpu_ratio": median(cpu_ratios),
        }
    return out
