"""Closed-loop HTTP load on loopback: wrk when the OS has it, else a raw-socket asyncio client in its own process.

Both answer the same dict: ``rps``, ``p50_ms``, ``p99_ms``, ``requests``, ``errors`` (socket errors and non-2xx).
Every run is bounded by its duration; the target must be a loopback URL.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,'
    .. '"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise ValueError(f"load tests target loopback only, not {host!r}")


def run(
    url: str,
    *,
    seconds: float = 3.0,
    connections: int = 8,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> dict:
    """GET ``url`` (POST ``body`` when given) over ``connections`` keep-alive connections for ``seconds``."""
    _check_loopback(url)
    if tool() == "wrk":
        return _wrk(url, seconds, connections, headers or {}, body)
    return _python(url, seconds, connections, headers or {}, body)


def _wrk(url: str, seconds: float, connections: int, headers: dict[str, str], body: bytes | None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = [==[{body.decode()}]==]\n')
        script.write(_WRK_REPORT)
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", script.name]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    try:
        done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report: {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": raw["socket_errors"] + raw["status_errors"],
    }


def _python(url: str, seconds: float, connections: int, headers: dict[str, str], body: bytes | None) -> dict:
    spec = json.dumps(
        {
            "url": url,
            "seconds": seconds,
            "connections": connections,
            "headers": headers,
            "body": None if body is None else body.decode(),
        }
    )
    done = subprocess.run([sys.executable, __file__, spec], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"python load client failed: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


async def _connection(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status >= 300:
                errors.append(status)
    finally:
        writer.close()


async def _client(url: str, seconds: float, connections: int, headers: dict[str, str], body: str | None) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = b"" if body is None else body.encode()
    lines = [
        f"{'GET' if body is None else 'POST'} {path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(
            _connection(parts.hostname or "127.0.0.1", parts.port or 80, request, until, latencies, errors)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "requests": len(latencies),
        "errors": len(errors),
    }


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    _check_loopback(spec["url"])
    print(
        json.dumps(
            asyncio.run(_client(spec["url"], spec["seconds"], spec["connections"], spec["headers"], spec.get("body")))
        )
    )
