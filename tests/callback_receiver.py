"""A tiny HTTP server on a free loopback port, in a thread, that keeps what is POSTed to it: the receiving end of the
batches' finish callbacks in tests (in-process and live)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from emulator.testing import free_port

HANG_LIMIT = 15.0
"""A hanging receiver answers after this many seconds at the latest (or when released)."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, status: int = 200, *, hang: bool = False) -> None:
        self.status = status
        self.hang = hang
        self.got: list[Received] = []
        self.release = threading.Event()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._arrived:
                    receiver.got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    receiver._arrived.notify_all()
                if receiver.hang:
                    receiver.release.wait(HANG_LIMIT)
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("location", "http://127.0.0.1:1/elsewhere")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` POSTs, waiting (bounded) for them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.got) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.got)} of {count} callbacks arrived within {timeout:g} s")
                self._arrived.wait(left)
            return list(self.got[:count])

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
