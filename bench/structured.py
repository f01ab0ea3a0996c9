"""Structured output and the Responses API against a plain chat completion, on one live emulator (loopback).

``python bench/structured.py [--seconds S] [--concurrency C] [--rounds R]`` prints one JSON object: requests per
second of a plain ``chat/completions`` call, a ``json_schema`` answer for a 50-property schema, and a Responses
API call (``POST /compatible-mode/v1/responses``), ``C`` concurrent clients each, the three kinds alternating for
``R`` rounds on the same server (the machine's noise hits all three alike); the median of each, and each one's
ratio to the plain call (the goal: at least 0.8).

``measure(workdir)`` is the importable part, for the bench suite.
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

from bench.common import emulator, running  # noqa: E402

HEADERS = {"Authorization": "Bearer sk-bench-structured"}
CHAT = "/compatible-mode/v1/chat/completions"
RESPONSES = "/compatible-mode/v1/responses"
PROMPT = "Describe the weather in Hangzhou today."
GOAL = 0.8
SCHEMA = {
    "type": "object",
    "properties": {
        f"field_{i}": [
            {"type": "string"},
            {"type": "integer", "minimum": 0, "maximum": 1000},
            {"type": "number"},
            {"type": "boolean"},
            {"enum": ["low", "medium", "high"]},
        ][i % 5]
        for i in range(50)
    },
    "required": [f"field_{i}" for i in range(50)],
    "additionalProperties": False,
}


def _request(kind: str, n: int) -> tuple[str, dict[str, Any]]:
    messages = [{"role": "user", "content": PROMPT}]
    if kind == "plain":
        return CHAT, {"model": "qwen-plus", "messages": messages, "seed": n}
    if kind == "json_schema":
        fmt = {"type": "json_schema", "json_schema": {"name": "report", "strict": True, "schema": SCHEMA}}
        return CHAT, {"model": "qwen-plus", "messages": messages, "seed": n, "response_format": fmt}
    return RESPONSES, {"model": "qwen-plus", "input": PROMPT, "seed": n, "store": True}


async def _rps(url: str, kind: str, seconds: float, concurrency: int) -> float:
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30, limits=limits) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                path, body = _request(kind, done)
                (await client.post(path, json=body)).raise_for_status()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def measure(workdir: Path | None, *, seconds: float = 2.0, concurrency: int = 8, rounds: int = 3) -> dict[str, Any]:
    kinds = ("plain", "json_schema", "responses")
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    with running(emulator(workdir, extra=("--seed", "1"))) as server:
        asyncio.run(_rps(server.url, "plain", 0.5, concurrency))  # warm up
        for _ in range(rounds):
            for kind in kinds:
                samples[kind].append(asyncio.run(_rps(server.url, kind, seconds, concurrency)))
    rps = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    ratios = {k: round(rps[k] / rps["plain"], 2) for k in ("json_schema", "responses")}
    return {
        "rps": rps,
        "ratio_to_plain": ratios,
        "goal": GOAL,
        "met": all(r >= GOAL for r in ratios.values()),
        "concurrency": concurrency,
        "rounds": rounds,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(None, seconds=args.seconds, concurrency=args.concurrency, rounds=args.rounds), indent=2))


if __name__ == "__main__":
    main()
