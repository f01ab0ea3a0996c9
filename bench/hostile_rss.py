"""Server memory and disk under issue 10's hostile inputs, on a real server (``python -m emulator serve``).

    .venv/bin/python bench/hostile_rss.py [--tree DIR] [--case journal|uploads|deep] [--scale N]

``--tree`` runs the server from another checkout (e.g. ``git archive 60e6e49 | tar -x -C /tmp/old``) for a
before/after figure.  Cases:

- ``journal``: 60 uploads, each with ~15 MB of form fields (230 fields of 64 KiB): the journal kept them all.
- ``uploads``: 20 concurrent uploads of one tenant already near its quota (``--max-tenant-bytes``): peak bytes
  in ``tmp/`` while they stream.  Scaled down from 299 MiB files by ``--scale`` (default 10: 29.9 MiB each).
- ``deep``: 200 JSON bodies nested 10,000 levels, and 20 of 8 MB nested 4 million levels, across JSON routes.

Prints the server's peak RSS (VmHWM), its RSS after, the peak of ``tmp/``, and ``internal_errors``.

Measured 2026-11-26 on the shared 2-core machine (before = 60e6e49's tree, after = issue 10's fixes):

    journal  peak RSS 1079.6 MiB -> 70.6 MiB (journal entries bounded; since then the 1 MiB cap on an upload's
             form fields refuses these uploads with a 400 before the journal sees them)
    uploads  tmp/ peak 598.0 MiB -> 59.8 MiB (= the quota), 190 s -> 43 s; peak RSS 82.7 -> 60.1 MiB
    deep     peak RSS 67.3 -> 67.1 MiB, internal_errors 220 -> 0
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tree: Path, workdir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        cmd = [sys.executable, "-m", "emulator", "serve", "--port", str(self.port), "--db", str(workdir / "e.db")]
        cmd += ["--data-dir", str(workdir / "files"), "--time-scale", "0", "--log-level", "critical", *args]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.process = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                httpx.get(self.url + "/_emulator/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def memory(self) -> tuple[int, int]:
        """(VmHWM, VmRSS) in bytes."""
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines())
        return int(fields["VmHWM"].split()[0]) * 1024, int(fields["VmRSS"].split()[0]) * 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def tmp_peak(server: Server, stop: threading.Event, peak: list[int]) -> None:
    temp = server.workdir / "files" / "tmp"
    while not stop.is_set():
        total = 0
        for path in temp.glob("*.part") if temp.exists() else ():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        peak[0] = max(peak[0], total)
        time.sleep(0.01)


def case_journal(server: Server, scale: int) -> None:
    fields = {"descriptions": ["d" * 64 * 1000] * 230}
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-a"}, timeout=120) as client:
        for _ in range(60):
            client.post("/api/v1/files", files=[("files", ("a.jsonl", GOOD))], data=fields)


def case_uploads(server: Server, scale: int) -> None:
    size = 299 * MiB // scale
    body = GOOD * (size // len(GOOD))

    def one() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-a"}, timeout=600) as client:
            client.post("/api/v1/files", files=[("files", ("big.jsonl", body))])

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def case_deep(server: Server, scale: int) -> None:
    routes = ("/api/v1/fine-tunes", "/api/v1/services/aigc/text-generation/generation", "/_emulator/clock/advance")
    small = b'{"model":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    big = b'{"model":' + b"[" * 4 * MiB + b"]" * 4 * MiB + b"}"
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-a"}, timeout=120) as client:
        for i in range(200):
            client.post(routes[i % 3], content=small, headers={"Content-Type": "application/json"})
        for i in range(20):
            client.post(routes[i % 3], content=big, headers={"Content-Type": "application/json"})


CASES: dict[str, tuple[Callable[[Server, int], None], tuple[str, ...]]] = {
    "journal": (case_journal, ()),
    "uploads": (case_uploads, ()),
    "deep": (case_deep, ()),
}


def run(tree: Path, name: str, scale: int) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="hostile-rss-"))
    size = 299 * MiB // scale
    args = ("--max-tenant-bytes", str(size * 2)) if name == "uploads" else ()
    server = Server(tree, workdir, *args)
    try:
        start_hwm, _ = server.memory()
        stop, peak = threading.Event(), [0]
        watcher = threading.Thread(target=tmp_peak, args=(server, stop, peak))
        watcher.start()
        began = time.monotonic()
        CASES[name][0](server, scale)
        elapsed = time.monotonic() - began
        stop.set()
        watcher.join()
        hwm, rss = server.memory()
        health = httpx.get(server.url + "/_emulator/health").json()
        return {
            "case": name,
            "tree": str(tree),
            "rss_start_mib": round(start_hwm / MiB, 1),
            "rss_peak_mib": round(hwm / MiB, 1),
            "rss_after_mib": round(rss / MiB, 1),
            "tmp_peak_mib": round(peak[0] / MiB, 1),
            "seconds": round(elapsed, 1),
            "internal_errors": health.get("internal_errors"),
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    for name in args.case or sorted(CASES):
        print(json.dumps(run(args.tree.resolve(), name, args.scale)), flush=True)


if __name__ == "__main__":
    main()
