"""What the control plane costs a request: the request journal, and the fault middleware with no or one rule.

Three servers run at once, each holding the same 10 files for one tenant, and are loaded in turn with
``GET /api/v1/files`` (keep-alive, loopback only, a few seconds each) for several rounds:

    journal   --journal-size 1000 (the default), no fault rule
    bare      --journal-size 0, no fault rule               (the reference)
    one-rule  --journal-size 0, one rule that never matches (POST /api/v1/fine-tunes/nothing)

A ratio is taken per round against ``bare`` of the same round (so a burst on this shared machine hits both
sides), then the median.  Server CPU per request (from /proc) is less noisy than req/s and is shown too.
A micro-benchmark then times each middleware alone around a no-op ASGI app, in-process, in ns per request.

    .venv/bin/python bench/control_overhead.py [--rounds 5] [--seconds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.common import AUTH, cpu_seconds, emulator, http_json, median, running, upload_bytes  # noqa: E402

VARIANTS = {
    "journal": ("--journal-size", "1000"),
    "bare": ("--journal-size", "0"),
    "one-rule": ("--journal-size", "0"),
}
ROW = (
    b'{"messages":[{"role":"user","content":"What is the capital of France?"},'
    b'{"role":"assistant","content":"Paris."}]}\n'
)


def _measure(url: str, pid: int, seconds: float, connections: int) -> dict[str, Any]:
    before = cpu_seconds(pid)
    result = load.run(url + "/api/v1/files", seconds=seconds, connections=connections, headers=AUTH)
    result["cpu_us_per_req"] = (cpu_seconds(pid) - before) / max(result["requests"], 1) * 1e6
    return result


def live(rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="control-overhead-") as tmp, ExitStack() as stack:
        servers = {
            name: stack.enter_context(running(emulator(Path(tmp) / name, extra=args)))
            for name, args in VARIANTS.items()
        }
        for server in servers.values():
            for i in range(10):
                upload_bytes(server.url, f"train-{i}.jsonl", ROW * 20)
        http_json(
            "POST",
            servers["one-rule"].url + "/_emulator/faults",
            {"method": "POST", "path": "/api/v1/fine-tunes/nothing", "status": 500},
        )
        for server in servers.values():  # warm-up
            load.run(server.url + "/api/v1/files", seconds=1.0, connections=connections, headers=AUTH)
        for _ in range(rounds):
            for name, server in servers.items():
                assert server.process is not None
                runs[name].append(_measure(server.url, server.process.pid, seconds, connections))
        journal = http_json("GET", servers["journal"].url + "/_emulator/requests?limit=1")
    return {"runs": runs, "journal_capacity": journal["capacity"], "journal_total": journal["total"]}


def _ratio(runs: dict[str, list[dict[str, Any]]], name: str, key: str) -> float:
    return median([a[key] / b[key] for a, b in zip(runs[name], runs["bare"], strict=True)])


async def _micro(n: int) -> dict[str, float]:
    """ns per request each middleware adds around a no-op app: pure Python cost, no socket, no server."""
    from emulator.control.faults import FaultMiddleware, FaultRules
    from emulator.control.journal import Journal, JournalMiddleware
    from emulator.control.schemas import FaultRuleSpec
    from emulator.ids import Ids

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    one = FaultRules(Ids(1), [FaultRuleSpec(method="POST", path="/api/v1/fine-tunes/nothing", status=500)])
    stacks = {
        "no-op app": app,
        "fault middleware, no rule": FaultMiddleware(app, faults=FaultRules(Ids(1))),
        "fault middleware, 1 non-matching rule": FaultMiddleware(app, faults=one),
        "journal middleware (size 1000)": JournalMiddleware(app, journal=Journal(1000)),
    }
    headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-bench"), (b"accept", b"*/*")]
    out: dict[str, float] = {}
    for name, stack in stacks.items():
        best = float("inf")
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(n):
                scope = {
                    "type": "http",
                    "method": "GET",
                    "path": "/api/v1/files",
                    "query_string": b"",
                    "headers": headers,
                    "state": {},
                }
                await stack(scope, receive, send)
            best = min(best, (time.perf_counter() - started) / n * 1e9)
        out[name] = best
    base = out["no-op app"]
    return {name: round(value - base, 1) for name, value in out.items() if name != "no-op app"} | {
        "no-op app (absolute)": round(base, 1)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--micro", type=int, default=100_000, help="requests per micro-benchmark pass")
    args = parser.parse_args()
    result = live(args.rounds, args.seconds, args.connections)
    runs = result["runs"]
    print(
        f"GET /api/v1/files, {args.connections} connections, {args.rounds} rounds x {args.seconds:g} s, "
        f"load tool: {load.tool()}"
    )
    print(
        f"{'server':<10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'req/s vs bare':>13} "
        f"{'CPU vs bare':>11}"
    )
    summary: dict[str, Any] = {}
    for name, values in runs.items():
        row = {key: median([r[key] for r in values]) for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
        row["errors"] = sum(r["errors"] for r in values)
        row["rps_ratio"] = _ratio(runs, name, "rps")
        row["cpu_ratio"] = _ratio(runs, name, "cpu_us_per_req")
        summary[name] = row
        print(
            f"{name:<10} {row['rps']:>8.0f} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} "
            f"{row['cpu_us_per_req']:>10.0f} {row['rps_ratio']:>13.3f} {row['cpu_ratio']:>11.3f}"
        )
    print(f"(the journal held {result['journal_total']} of {result['journal_capacity']} entries at the end)")
    micro = asyncio.run(_micro(args.micro))
    print("in-process, ns added per request around a no-op ASGI app:")
    for name, value in micro.items():
        print(f"  {name:<40} {value:>8.1f}")
    print(json.dumps({"live": summary, "micro_ns": micro}))


if __name__ == "__main__":
    main()
