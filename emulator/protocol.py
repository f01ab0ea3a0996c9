"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol with a bound on a request's head, and each
answer's head sent together with the start of its body (``_HeadWithBody``: one send instead of two).

httptools buffers a request line and headers for as long as they keep coming (uvicorn sets no limit), so one
client could grow the server's memory without end.  This protocol counts the bytes of the head as they arrive
and, past ``--max-header-bytes``, answers 431 in the service's error envelope and closes the connection,
before a byte of the request reaches the app (after the answers of the requests pipelined before it, never in
their place).  The limit travels in uvicorn's own
``h11_max_incomplete_event_size``, which bounds the h11 protocol the same way (that one answers a plain 400).

This module is the one place that relies on uvicorn's insides (its protocol's hooks and attributes, the
request cycle behind the ``send`` it gives the app); ``tests/unit/test_private_apis.py`` fails loudly when a
uvicorn release changes them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from emulator.errors import HeadersTooLarge, render_error


def head_too_large_response(limit: int) -> bytes:
    error = HeadersTooLarge(f"Request line and headers are larger than {limit} bytes (--max-header-bytes).")
    request_id = str(uuid.uuid4())
    body = json.dumps(render_error(error, request_id)).encode()
    head = (
        f"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        f"content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        f"connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEAD_SECONDS = 10.0
"""Default of ``--head-timeout``: how long a request head may take to arrive once its first byte has (uvicorn's
keep-alive timeout stops at the first byte, and nothing bounds the rest): past it the connection gets a 408 and is
closed."""
GATHER_BYTES = 16 * 1024
"""A body from this size on leaves beside its head (``writelines``) instead of being copied behind it."""
DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 2.0


class _HeadTooLarge(Exception):
    pass


class _HeadWithBody:
    """The transport as a response sees it: the head is held until the body's first write, and both leave in one
    ``write`` (one send, one TCP segment, instead of two).  A head with no body written in the same loop step (a
    stream) leaves on its own at the end of that step; closing flushes first.  Everything else is the transport's.
    """

    __slots__ = ("_transport", "_held", "_loop", "_first")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._loop = loop
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:  # the head (or a 100 Continue): held for what follows it in this step
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        if held is None:
            self._transport.write(data)
            return
        self._held = None
        if len(data) < GATHER_BYTES:
            self._transport.write(held + data)
        else:  # one gathered send (uvloop's writelines is a writev): no copy of a large body to put its head first
            self._transport.writelines((held, data))

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``--http`` for uvicorn: httptools, with the head of each request bounded.

    Two checks: bytes that arrive while a head is still open are counted as they come (a head that never ends),
    and a head that completes within one read is measured when it completes (the parser then stops, through
    uvicorn's own parser-error path, which this class answers with the 431 instead of uvicorn's plain 400).
    """

    head_seconds = HEAD_SECONDS
    """``--head-timeout``: set by ``use_head_timeout`` in the process that serves (uvicorn's config has no field
    for it, and a worker process imports this module afresh)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit: int = self.config.h11_max_incomplete_event_size or 16 * 1024
        self._head_open = True  # between requests, or inside a request's head
        self._head_seen = 0
        self._events = 0  # heads and messages completed on this connection
        self._refused = False
        self._draining = 0  # bytes still to discard after a 431 (lingering close), 0 when not draining
        self._refuse_pending = False  # a 431 waiting for the answers of the requests before it
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._drain(len(data))
            return
        if self._refuse_pending:  # nothing after an oversized head is parsed; the 431 follows the earlier answers
            return
        events = self._events
        super().data_received(data)
        # a read in which a head or a message completed is not counted: it held a body or a pipelined request
        if self._head_open and self._events == events and not self.transport.is_closing():
            self._head_seen += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.head_seconds, self._head_timed_out)
            if self._head_seen > self._head_limit:
                self._refuse()

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_open and self._head_seen and not self.transport.is_closing() and not self._draining:
            self.logger.warning("request head not complete after %g s: answered 408", self.head_seconds)
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._events += 1
        self._head_open = False
        self._head_seen = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._head_limit:
            self._refused = True
            raise _HeadTooLarge()  # httptools stops parsing; uvicorn calls send_400_response
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._events += 1
        super().on_message_complete()
        self._head_open = True
        self._head_seen = 0

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        """Answer 431, then close the way nginx's lingering close does.

        Closing at once while the client is still sending its head makes the kernel answer the unread bytes
        with a reset, which can destroy the 431 before the client reads it.  So the write side is shut, and
        what still arrives is discarded (at most DRAIN_BYTES, for at most DRAIN_SECONDS) until the client
        closes too.
        """
        if self._draining or self.transport.is_closing():
            return
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            # pipelined behind a request still being answered: its 431 must not take that answer's place
            self._refuse_pending = True
            return
        self._refuse_pending = False
        self.logger.warning("request head over %d bytes: answered 431", self._head_limit)
        self.transport.write(head_too_large_response(self._head_limit))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._draining = DRAIN_BYTES
        self.loop.call_later(DRAIN_SECONDS, self.transport.close)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refuse_pending and not self.pipeline and not self.transport.is_closing():
            self._refuse()

    def _drain(self, size: int) -> None:
        self._draining = max(self._draining - size, 0)
        if not self._draining:
            self.transport.close()


def use_head_timeout(seconds: float) -> None:
    """``--head-timeout`` for every connection this process serves from now on."""
    BoundedHttpToolsProtocol.head_seconds = seconds


async def close_connection(send: Any) -> None:
    """Close the connection of the request whose ``send`` this is, and wait until uvicorn has seen it go (else it
    would answer a 500 itself).  ``send`` is a method of uvicorn's ``RequestResponseCycle``, which holds the
    connection's ``transport`` and its ``disconnected`` flag; under another server (no such cycle) nothing
    happens."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return
    transport.close()
    for _ in range(200):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0 if _ < 100 else 0.001)
