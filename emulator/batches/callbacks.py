"""A batch's finish callback (``metadata.ds_batch_finish_callback``): one POST, when the batch is finalized.

The real service POSTs "the task state" to the URL when the task ends and documents no more of it; the emulator
sends the batch object exactly as ``GET /compatible-mode/v1/batches/{id}`` answers it at that moment, as JSON
(docs/decisions.md).  Delivery never holds up what made the batch final (a read, a clock advance): the batch is
put on a bounded queue and a few workers POST it (httpx, imported with the first delivery), each attempt bounded
by ``TIMEOUT_SECONDS`` in all, no redirect followed, no proxy from the environment, the answer's body never read.
One attempt, no retry.  Every attempt, a refused one too, is kept in a ring (``GET /_emulator/callbacks``).

Safe by default (the emulator must not become a way to reach other hosts): a callback goes only to a loopback
host (127.0.0.0/8, ::1, ``localhost``), and only when the server itself is bound to loopback.  ``--callback-host``
adds hosts (``*`` any host, ``none`` no callback at all).  The host is judged as written in the URL, never
resolved, so a name is allowed only by that name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from emulator import __version__
from emulator.clock import Clock, fmt_iso
from emulator.errors import InvalidParameter

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("emulator")

KEY = "ds_batch_finish_callback"
ANY_HOST = "*"
NO_HOST = "none"
TIMEOUT_SECONDS = 5.0
"""One attempt's bound, connection to answer head (the answer's body is not read)."""
CONCURRENCY = 4
QUEUE_SIZE = 1000
"""Callbacks waiting for a worker; past it a callback is recorded as dropped, not queued."""
RING_SIZE = 500
MAX_BODY_KEPT = 16 * 1024
"""Bytes of a sent body the ring keeps (parsed); a bigger one is kept as its first bytes, as text."""
TRUNCATED = "...[truncated]"


def _split(value: str) -> SplitResult | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError:
        return None
    return parts


def check_url(value: str) -> None:
    """At create: an absolute ``http``/``https`` URL with a host, or a 400."""
    parts = _split(value)
    bad = (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
    )
    if bad:
        raise InvalidParameter(
            f"metadata.{KEY} must be an http or https URL with a host (got {value[:100]!r}).", param=f"metadata.{KEY}"
        )


def _host(name: str) -> str:
    """A host as compared: lower case, an IP address in its normal form."""
    name = name.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def is_loopback(host: str) -> bool:
    host = _host(host)
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


class CallbackPolicy:
    """Which callback hosts are POSTed to (``--callback-host``, the bind address ``--host``)."""

    def __init__(self, hosts: tuple[str, ...], bind_host: str) -> None:
        names = {_host(h) for item in hosts for h in item.split(",") if h.strip()}
        self.off = NO_HOST in names
        self.any = ANY_HOST in names and not self.off
        self.hosts = frozenset(names - {ANY_HOST, NO_HOST})
        self.loopback_bind = is_loopback(bind_host)

    def refusal(self, url: str) -> str | None:
        """Why no POST goes to ``url``; None when one does."""
        if self.off:
            return "callbacks are off (--callback-host none)"
        parts = _split(url)
        host = _host(parts.hostname or "") if parts is not None else ""
        if self.any or host in self.hosts:
            return None
        if is_loopback(host):
            if self.loopback_bind:
                return None
            return (
                "the server is not bound to a loopback interface, so a loopback callback could reach this machine's "
                f"services from elsewhere: allow it with --callback-host {host}"
            )
        return f"host {host!r} is not allowed: callbacks go to loopback hosts only unless --callback-host {host}"


def shown_url(url: str) -> str:
    """The URL as the ring shows it: a password in it is masked."""
    parts = _split(url)
    if parts is None or parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


@dataclass(frozen=True)
class _Due:
    batch_id: str
    url: str
    payload: bytes
    body: Any
    emulated: float


class CallbackOutbox:
    """The queue, the workers that POST, and the ring of attempts (newest last)."""

    def __init__(
        self,
        policy: CallbackPolicy,
        clock: Clock,
        *,
        timeout: float = TIMEOUT_SECONDS,
        concurrency: int = CONCURRENCY,
        queue_size: int = QUEUE_SIZE,
        ring_size: int = RING_SIZE,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.timeout = timeout
        self.concurrency = concurrency
        self.queue_size = queue_size
        self._ring: deque[dict[str, Any]] = deque(maxlen=ring_size)
        self._seq = 0
        self._pending = 0
        self._queue: asyncio.Queue[_Due] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------------------------------- submit

    def submit(self, batch_id: str, url: str, body: dict[str, Any]) -> None:
        """Due now: refused at once by the policy, or queued for a worker (never waits)."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        kept: Any = (
            body if len(payload) <= MAX_BODY_KEPT else payload[:MAX_BODY_KEPT].decode(errors="ignore") + TRUNCATED
        )
        due = _Due(batch_id, url, payload, kept, self.clock.now())
        reason = self.policy.refusal(url)
        if reason is not None:
            self._record(due, "refused", error=reason)
            return
        queue = self._started()
        try:
            queue.put_nowait(due)
        except asyncio.QueueFull:
            self._record(due, "dropped", error=f"{self.queue_size} callbacks already wait for delivery")
            return
        self._pending += 1

    def _started(self) -> asyncio.Queue[_Due]:
        if self._queue is None:
            self._queue = asyncio.Queue(self.queue_size)
        if not self._workers:
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work(self._queue)) for _ in range(self.concurrency)]
        return self._queue

    async def _work(self, queue: asyncio.Queue[_Due]) -> None:
        while True:
            due = await queue.get()
            try:
                await self._deliver(due)
            except Exception:  # never lose a worker: the attempt is recorded as failed
                log.exception("batch callback to %s", shown_url(due.url))
                self._record(due, "failed", error="internal error while delivering")
            finally:
                self._pending -= 1
                queue.task_done()

    async def _deliver(self, due: _Due) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=0),
            )
        headers = {"content-type": "application/json", "user-agent": f"dashscope-emulator/{__version__}"}
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client.stream("POST", due.url, content=due.payload, headers=headers) as response:
                    status = response.status_code
        except TimeoutError:
            self._record(due, "failed", error=f"timeout: no answer within {self.timeout:g} s", started=started)
            return
        except httpx.HTTPError as exc:
            self._record(due, "failed", error=f"{type(exc).__name__}: {exc}"[:500], started=started)
            return
        if 200 <= status < 300:
            self._record(due, "delivered", status=status, started=started)
        else:
            more = " (redirects are not followed)" if 300 <= status < 400 else ""
            self._record(due, "failed", status=status, error=f"HTTP {status}{more}", started=started)

    def _record(
        self, due: _Due, outcome: str, *, status: int | None = None, error: str | None = None, started: float = 0.0
    ) -> None:
        self._seq += 1
        self._ring.append(
            {
                "seq": self._seq,
                "batch_id": due.batch_id,
                "url": shown_url(due.url),
                "outcome": outcome,
                "status_code": status,
                "error": error,
                "body": due.body,
                "body_size": len(due.payload),
                "time": due.emulated,
                "time_iso": fmt_iso(due.emulated),
                "wall_time": time.time(),
                "duration_ms": round((time.monotonic() - started) * 1000, 3) if started else 0.0,
            }
        )

    # ------------------------------------------------------------------------------------------- the ring

    def attempts(self, batch_id: str | None = None, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many kept attempts match, and the newest ``limit`` of them, newest first."""
        found = [a for a in reversed(self._ring) if batch_id is None or a["batch_id"] == batch_id]
        return len(found), found[:limit]

    @property
    def capacity(self) -> int:
        return self._ring.maxlen or 0

    def pending(self) -> int:
        """Callbacks queued or being delivered."""
        return self._pending

    def clear(self) -> int:
        removed = len(self._ring)
        self._ring.clear()
        return removed

    async def stop(self) -> None:
        """At shutdown: what is queued is dropped, what is in flight cancelled."""
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None
