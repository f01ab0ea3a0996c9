"""Many SSE streams at once from one asyncio process: ``python bench/sse_client.py < spec.json > result.json``.

The spec names the loopback host/port, a deadline in seconds, and the streams (path + API key).  Each stream's
answer lists its ``data:`` lines in order, its event ids, when each event arrived (seconds after start), and
whether the server closed it cleanly.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def _stream(
    host: str, port: int, path: str, api_key: str, t0: float, opened: asyncio.Queue[int]
) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {api_key}\r\n"
            "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    chunked = b"transfer-encoding: chunked" in head.lower()
    opened.put_nowait(status)
    data: list[str] = []
    ids: list[str] = []
    times: list[float] = []
    buffer = b""
    closed = False
    try:
        while True:
            chunk = await _next_chunk(reader, chunked)
            if not chunk:
                closed = True
                break
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                _take(event.decode(), data, ids, times, time.perf_counter() - t0)
    finally:
        writer.close()
    return {"status": status, "data": data, "ids": ids, "times": times, "closed": closed}


async def _next_chunk(reader: asyncio.StreamReader, chunked: bool) -> bytes:
    if not chunked:
        return await reader.read(65536)
    size_line = await reader.readuntil(b"\r\n")
    size = int(size_line.strip(), 16)
    if size == 0:
        return b""
    chunk = await reader.readexactly(size + 2)
    return chunk[:-2]


def _take(event: str, data: list[str], ids: list[str], times: list[float], at: float) -> None:
    lines = event.split("\n")
    payload = [line[5:] for line in lines if line.startswith("data:")]
    if not payload:
        return  # a heartbeat comment
    data.append("\n".join(payload))
    ids.append(next((line[3:] for line in lines if line.startswith("id:")), ""))
    times.append(at)


async def _announce(opened: asyncio.Queue[int], count: int) -> None:
    """Tell the driver (on stderr) once every stream has its response head, so it can start the clock."""
    for _ in range(count):
        await opened.get()
    sys.stderr.write("READY\n")
    sys.stderr.flush()


async def main(spec: dict[str, Any]) -> list[dict[str, Any]]:
    host, port = spec["host"], spec["port"]
    if not host.startswith("127."):
        raise SystemExit("loopback only")
    t0 = time.perf_counter()
    opened: asyncio.Queue[int] = asyncio.Queue()
    tasks = asyncio.gather(
        *(_stream(host, port, s["path"], s["api_key"], t0, opened) for s in spec["streams"]), return_exceptions=True
    )
    waiting = asyncio.ensure_future(_announce(opened, len(spec["streams"])))
    results = await asyncio.wait_for(tasks, spec["deadline"])
    waiting.cancel()
    return [r if isinstance(r, dict) else {"error": repr(r)} for r in results]


if __name__ == "__main__":
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    print(json.dumps(run(main(json.load(sys.stdin)))))
