"""Uploads: MB/s for a 300 MB SFT dataset, and how much the server's RSS grows meanwhile (goal: < 30 MB)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from bench.common import API_KEY, HOST, RssSampler, emulator, hwm_kb, median, rss_kb, running, upload_bytes

TARGET_BYTES = 300 * 1000 * 1000  # "300 MB"; the per-file limit is 300 MiB
BOUNDARY = "benchuploadboundary4f2a9c"


def make_dataset(path: Path, size: int = TARGET_BYTES) -> dict[str, int]:
    """A valid SFT jsonl of about ``size`` bytes: ~1 KB rows, each a little different."""
    filler = "The quick brown fox jumps over the lazy dog. " * 18
    rows = 0
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            row = (
                json.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "You are a helpful assistant."},
                            {"role": "user", "content": f"Row {rows}: summarise this. {filler}"},
                            {"role": "assistant", "content": f"Summary {rows}: a fox jumps over a dog, many times."},
                        ]
                    }
                )
                + "\n"
            )
            data = row.encode()
            fh.write(data)
            written += len(data)
            rows += 1
    return {"bytes": path.stat().st_size, "rows": rows}


def upload_file(port: int, path: Path, timeout: float = 600) -> tuple[int, dict[str, Any]]:
    """POST the file as multipart with sendfile(2), so the client costs next to nothing; answers status, body."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = (
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--{BOUNDARY}--\r\n'
    ).encode()
    length = len(head) + path.stat().st_size + len(tail)
    request = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((HOST, port), timeout=timeout) as sock, open(path, "rb") as fh:
        sock.sendall(request + head)
        sock.sendfile(fh)
        sock.sendall(tail)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    status = int(raw.split(b" ", 2)[1])
    body = raw.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in raw.split(b"\r\n\r\n", 1)[0].lower():
        body = _unchunk(body)
    return status, json.loads(body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def measure(workdir: Path, rounds: int = 3) -> dict[str, Any]:
    data = workdir / "big-train.jsonl"
    made = make_dataset(data)
    runs = []
    for _ in range(rounds):
        server = emulator(workdir / f"server-{len(runs)}")
        with running(server):
            assert server.process is not None
            pid = server.process.pid
            upload_bytes(server.url, "warm.jsonl", data.read_bytes()[:200_000].rsplit(b"\n", 1)[0] + b"\n")
            time.sleep(0.3)
            base = rss_kb(pid)
            hwm_before = hwm_kb(pid)
            with RssSampler(pid) as sampler:
                started = time.perf_counter()
                status, body = upload_file(server.port, data)
                elapsed = time.perf_counter() - started
            if status != 200 or not body["data"]["uploaded_files"]:
                raise RuntimeError(f"300 MB upload failed: {status} {body}")
            runs.append(
                {
                    "seconds": elapsed,
                    "mb_per_s": made["bytes"] / 1e6 / elapsed,
                    "rss_base_mb": base / 1024,
                    "rss_peak_mb": sampler.peak_kb / 1024,
                    "rss_growth_mb": (sampler.peak_kb - base) / 1024,
                    "hwm_growth_mb": max(0, hwm_kb(pid) - max(base, hwm_before)) / 1024,
                }
            )
    data.unlink()
    return {
        "file_bytes": made["bytes"],
        "rows": made["rows"],
        "runs": runs,
        "mb_per_s": median([r["mb_per_s"] for r in runs]),
        "seconds": median([r["seconds"] for r in runs]),
        "rss_growth_mb": median([r["rss_growth_mb"] for r in runs]),
        "rss_growth_max_mb": max(r["rss_growth_mb"] for r in runs),
        "rss_base_mb": median([r["rss_base_mb"] for r in runs]),
    }
