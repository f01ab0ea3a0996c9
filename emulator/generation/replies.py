"""Generation streams on the wire: SSE frames, error frames, and the stream faults every generation stream goes
through (``faulted_stream`` applies a stream-only fault rule to any stream's frames)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from emulator.context import context
from emulator.errors import ApiError, render_openai_error
from emulator.rules.fault_schemas import FaultRule
from emulator.rules.faults import drop_connection, fault_error
from emulator.sse import encode_json, stream_response

DONE = b"data: [DONE]\n\n"


# --------------------------------------------------------------------------------------------- stream faults


ErrorFrame = Callable[[ApiError, int], bytes]
"""Renders a fault's error as the protocol's stream error frame, given the number of chunks already sent."""


def generation_stream(
    request: Request, frames: AsyncIterator[bytes], error_frame: ErrorFrame, tail: bytes = b""
) -> StreamingResponse:
    """An SSE response of ``frames`` (then ``tail``, OpenAI's ``[DONE]``), through a stream fault if one hit."""
    fault = context(request).stream_fault
    if fault is None:
        return stream_response(_with_tail(frames, tail))
    return stream_response(faulted_stream(request, frames, fault, error_frame, tail))


async def _with_tail(frames: AsyncIterator[bytes], tail: bytes) -> AsyncIterator[bytes]:
    async for frame in frames:
        yield frame
    if tail:
        yield tail


async def faulted_stream(
    request: Request, frames: AsyncIterator[bytes], spec: FaultRule, error_frame: ErrorFrame, tail: bytes
) -> AsyncIterator[bytes]:
    """Delays are wall time (a client's time to first token and read timeouts are wall clocks).  An error or a drop
    comes after ``N`` chunks, or after the last chunk when the stream is shorter: a rule that hit always acts."""
    if spec.first_chunk_delay_ms:
        await asyncio.sleep(spec.first_chunk_delay_ms / 1000)
    sent = 0
    async for frame in frames:
        if _cut_here(spec.after_chunks, sent) or _cut_here(spec.drop_after_chunks, sent):
            break
        if sent and spec.chunk_delay_ms:
            await asyncio.sleep(spec.chunk_delay_ms / 1000)
        yield frame
        sent += 1
    if spec.after_chunks is not None:
        yield error_frame(fault_error(spec), sent)
        return
    if spec.drop_after_chunks is not None:
        await drop_connection(request.scope)
        return
    if tail:
        yield tail


def _cut_here(limit: int | None, sent: int) -> bool:
    return limit is not None and sent >= limit


async def frames_of(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for frame in chunks:
        yield frame
        await asyncio.sleep(0)  # let other requests in between chunks; never a real wait


# --------------------------------------------------------------------------------------------- frames


def native_error_frame(error: ApiError, request_id: str, event_id: int) -> bytes:
    """The service's error after the headers: ``event:error`` and ``:HTTP_STATUS/<status>`` (reference §6.3)."""
    return encode_json(error.body(request_id), event="error", event_id=event_id, comment=f"HTTP_STATUS/{error.status}")


def native_error_frames(request_id: str) -> ErrorFrame:
    return lambda error, sent: native_error_frame(error, request_id, sent + 1)


def native_frames(chunks: Iterable[dict[str, Any]], request_id: str) -> Iterator[bytes]:
    """Native SSE events, numbered from 1, each chunk stamped with the request id."""
    for number, chunk in enumerate(chunks, 1):
        chunk["request_id"] = request_id
        yield encode_json(chunk, event="result", event_id=number, comment="HTTP_STATUS/200")


def openai_error_frame(error: ApiError, request_id: str) -> bytes:
    """An error inside an OpenAI stream: a ``data:`` event whose object has ``error`` (the openai package raises)."""
    return b"data: " + json.dumps(render_openai_error(error, request_id), ensure_ascii=False).encode() + b"\n\n"


def openai_error_frames(request_id: str) -> ErrorFrame:
    return lambda error, sent: openai_error_frame(error, request_id)
