"""Generation throughput and streaming latency on a live emulator (loopback, one worker).

``python bench/generation.py [--seconds S] [--concurrency C] [--streams N]`` prints one JSON object:

- ``rps``: non-streaming native generation requests per second, one client in a loop and ``C`` concurrent ones,
  for a catalog model (``qwen-turbo``) and for a deployed fine-tune (which answers from its training samples);
- ``first_chunk_ms``: time from sending a streaming request (``X-DashScope-SSE: enable``) to its first SSE
  ``data:`` line, and to the end of the stream, median and p95 over ``N`` sequential requests; the same for the
  OpenAI-compatible ``stream: true``.

``measure(server)`` is the importable part, for the bench suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.testing import EmulatorServer  # noqa: E402

API_KEY = "sk-bench-generation"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
GENERATION = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
SFT = Path(__file__).resolve().parent.parent / "fixtures" / "datasets" / "sft_basic.jsonl"
PROMPTS = ("你是谁?", "How do I learn Python programming quickly?", "请介绍一下杭州西湖的历史", "退款多久能到账?")


def _body(model: str, index: int, **parameters: Any) -> dict[str, Any]:
    prompt = PROMPTS[index % len(PROMPTS)]
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": prompt}]},
        "parameters": {"seed": index, **parameters},
    }


def deployed_finetune(server: EmulatorServer) -> str:
    """Upload, train, deploy; the control plane moves the clock and the deployment on."""
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
        files = [("files", (SFT.name, SFT.read_bytes()))]
        file_id = client.post("/api/v1/files", files=files).json()["data"]["uploaded_files"][0]["file_id"]
        job_id = client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]}).json()[
            "output"
        ]["job_id"]
        for _ in range(100):
            job = client.get(f"/api/v1/fine-tunes/{job_id}").json()["output"]
            if job["status"] == "SUCCEEDED":
                break
            server.control("POST", "/_emulator/clock/advance", {"seconds": 600})
        model = str(job["finetuned_output"])
        client.post("/api/v1/deployments", json={"model_name": model, "capacity": 1}).raise_for_status()
    for status in ("DEPLOYING", "RUNNING"):
        server.control("POST", f"/_emulator/deployments/{model}/status", {"status": status})
    return model


def rps_sequential(url: str, model: str, seconds: float) -> float:
    done = 0
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            client.post(GENERATION, json=_body(model, done)).raise_for_status()
            done += 1
        return done / (time.perf_counter() - started)


async def _rps_concurrent(url: str, model: str, seconds: float, concurrency: int) -> float:
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30, limits=limits) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                (await client.post(GENERATION, json=_body(model, done))).raise_for_status()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def rps_concurrent(url: str, model: str, seconds: float, concurrency: int) -> float:
    return asyncio.run(_rps_concurrent(url, model, seconds, concurrency))


def first_chunk(url: str, path: str, bodies: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, float]:
    """Milliseconds to the first ``data:`` line and to the end of each stream, over sequential requests."""
    firsts: list[float] = []
    totals: list[float] = []
    with httpx.Client(base_url=url, headers={**HEADERS, **headers}, timeout=30) as client:
        client.post(path, json=bodies[0]).read()  # warm the connection
        for body in bodies:
            started = time.perf_counter()
            first = None
            with client.stream("POST", path, json=body) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if first is None and line.startswith("data:"):
                        first = time.perf_counter()
            end = time.perf_counter()
            firsts.append(((first or end) - started) * 1000)
            totals.append((end - started) * 1000)
    return {
        "first_p50": _round(statistics.median(firsts)),
        "first_p95": _round(_p95(firsts)),
        "total_p50": _round(statistics.median(totals)),
        "total_p95": _round(_p95(totals)),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered) + 0.5)) - 1)]


def _round(value: float) -> float:
    return round(value, 2)


def measure(server: EmulatorServer, *, seconds: float = 3.0, concurrency: int = 8, streams: int = 50) -> dict[str, Any]:
    finetuned = deployed_finetune(server)
    url = server.url
    rps = {}
    for label, model in (("catalog", "qwen-turbo"), ("finetuned", finetuned)):
        rps[label] = {
            "sequential": round(rps_sequential(url, model, seconds), 1),
            f"concurrent_{concurrency}": round(rps_concurrent(url, model, seconds, concurrency), 1),
        }
    native = [_body("qwen-turbo", i, incremental_output=True) for i in range(streams)]
    chat = [{"model": "qwen-turbo", "stream": True, "messages": b["input"]["messages"]} for b in native]
    return {
        "rps": rps,
        "first_chunk_ms": {
            "native_sse": first_chunk(url, GENERATION, native, {"X-DashScope-SSE": "enable"}),
            "openai_stream": first_chunk(url, CHAT, chat, {}),
        },
        "settings": {"seconds": seconds, "concurrency": concurrency, "streams": streams, "workers": 1},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--streams", type=int, default=50)
    args = parser.parse_args()
    with EmulatorServer(time_scale=0.0, seed=1, extra_args=("--pending-seconds", "0")) as server:
        result = measure(server, seconds=args.seconds, concurrency=args.concurrency, streams=args.streams)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
