"""Start a real emulator server from a test or a script: ``with EmulatorServer() as server: ...``.

The server runs as a child process (``python -m emulator serve``) on a free loopback port, with its
own database and data dir in a temp folder unless given; it is stopped by its PID on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    def __init__(self, *, time_scale: float = 0.0, seed: int | None = None, workdir: Path | None = None,
                 extra_args: tuple[str, ...] = (), port: int | None = None, env: dict[str, str] | None = None,
                 start_timeout: float = 20.0) -> None:
        self.time_scale = time_scale
        self.seed = seed
        self.extra_args = extra_args
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="emulator-server-"))
        self.env = env
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``DASHSCOPE_HTTP_BASE_URL`` should be set to."""
        return f"{self.url}/api/v1"

    @property
    def db_path(self) -> Path:
        return self.workdir / "emulator.db"

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "emulator", "serve", "--host", self.host, "--port", str(self.port),
                "--db", str(self.db_path), "--data-dir", str(self.workdir / "files"),
                "--time-scale", str(self.time_scale), "--log-level", "warning"]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        return args + list(self.extra_args)

    def start(self) -> EmulatorServer:
        env = {**os.environ, **(self.env or {})}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait_healthy()
        return self

    def wait_healthy(self) -> float:
        started = time.monotonic()
        deadline = started + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                self.control("GET", "/_emulator/health")
                return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise RuntimeError(f"emulator not healthy after {self.start_timeout}s: {self.log_path.read_text()}")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()
