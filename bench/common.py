"""What every bench section shares: servers on loopback, process readings from /proc, small statistics."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emulator.testing import EmulatorServer, free_port

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
API_KEY = "sk-bench"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def rss_kb(pid: int) -> int:
    """Resident set size now (VmRSS), in KiB."""
    return _status_field(pid, "VmRSS")


def hwm_kb(pid: int) -> int:
    """Peak resident set size so far (VmHWM), in KiB."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{name} not in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds from a thread; ``peak_kb`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_kb(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    @property
    def peak_kb(self) -> int:
        return max(self.samples, default=0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def emulator(workdir: Path | None = None, *, time_scale: float = 0.0, extra: tuple[str, ...] = ()) -> EmulatorServer:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    return EmulatorServer(time_scale=time_scale, workdir=workdir, extra_args=extra, start_timeout=60.0)


@contextmanager
def running(server: EmulatorServer) -> Iterator[EmulatorServer]:
    """Start, yield, always stop (the workdir stays when it was given)."""
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


class BareServer:
    """The ceiling: a bare Starlette app under the same uvicorn settings as the emulator (``bench/bare.py``)."""

    def __init__(self, payloads: dict[str, Any], workdir: Path) -> None:
        self.port = free_port()
        self.payload_file = workdir / "bare-payloads.json"
        self.payload_file.write_text(json.dumps(payloads))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> BareServer:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "bare.py"), str(self.port), str(self.payload_file)], cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.02)
        self.__exit__()
        raise RuntimeError("bare server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 60
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **AUTH, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def upload_bytes(base: str, name: str, content: bytes, api_key: str = API_KEY) -> str:
    """One multipart upload through urllib; answers the new file id."""
    boundary = "benchboundary7MA4YWxkTrZu0gW"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    tail = f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--{boundary}--\r\n'
    body = head.encode() + content + tail.encode()
    request = urllib.request.Request(
        base + "/api/v1/files",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    return str(answer["data"]["uploaded_files"][0]["file_id"])


SFT_ROW = (
    b'{"messages":[{"role":"system","content":"You are a helpful assistant."},'
    b'{"role":"user","content":"What is the capital of France?"},'
    b'{"role":"assistant","content":"The capital of France is Paris."}]}\n'
)
