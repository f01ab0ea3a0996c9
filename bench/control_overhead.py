"""What the control plane costs a request: the request journal, and fault rules (none, or one that never matches).

Three servers run at once, each holding the same 10 files for one tenant, and are loaded in turn with
``GET /api/v1/files`` (keep-alive, loopback only, a few seconds each) for several rounds:

    journal   --journal-size 1000 (the default), no fault rule
    bare      --journal-size 0, no fault rule               (the reference)
    one-rule  --journal-size 0, one rule that never matches (POST /api/v1/fine-tunes/nothing)

A ratio is taken per round against ``bare`` of the same round (so a burst on this shared machine hits both
sides), then the median.  Server CPU per request (from /proc) is less noisy than req/s and is shown too.
A micro-benchmark then times the whole app in-process (the gateway: journal off, on, one fault rule), in µs.

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
    """µs per request of the whole app, in-process (no socket, no server), on ``GET /api/v1/files`` of a tenant
    without files: the gateway with the journal off, on, and with one fault rule that never matches."""
    from emulator.app import create_app
    from emulator.control.schemas import FaultRuleSpec
    from emulator.settings import Settings

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    variants = {"journal off": 0, "journal 1000": 1000, "journal off, 1 non-matching fault rule": 0}
    headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-bench"), (b"accept", b"*/*")]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="control-overhead-micro-") as tmp:
        for name, journal_size in variants.items():
            app = create_app(
                Settings(
                    db=f"{tmp}/{journal_size}-{len(out)}.db",
                    data_dir=Path(tmp) / name,
                    time_scale=0.0,
                    journal_size=journal_size,
                )
            )
            async with app.router.lifespan_context(app):
                if "fault" in name:
                    app.state.rt.faults.add(FaultRuleSpec(method="POST", path="/api/v1/fine-tunes/nothing", status=500))
                path = "/api/v1/files"
                best = float("inf")
                for _ in range(5):
                    started = time.perf_counter()
                    for _ in range(n):
                        scope = {
                            "type": "http",
                            "method": "GET",
                            "path": path,
                            "raw_path": path.encode(),
                            "query_string": b"",
                            "root_path": "",
                            "headers": headers,
                            "scheme": "http",
                            "server": ("127.0.0.1", 8000),
                            "client": ("127.0.0.1", 5),
                        }
                        await app(scope, receive, send)
                    best = min(best, (time.perf_counter() - started) / n * 1e6)
                out[name] = round(best, 1)
    return out


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
    print("in-process, µs per request of the whole app:")
    for name, value in micro.items():
        print(f"  {name:<40} {value:>8.1f}")
    print(json.dumps({"live": summary, "micro_us": micro}))


if __name__ == "__main__":
    main()
