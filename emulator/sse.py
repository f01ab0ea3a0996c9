"""Server-Sent Events in the service's framing: ``id:``/``event:``/``data:`` with no space after the colon.

The 1.x SDKs keep the text after ``data:`` as is (no strip), so a space there would reach the user.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

HEARTBEAT = b":\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def encode(
    data: str,
    *,
    event: str | None = None,
    event_id: int | str | None = None,
    status: int | None = None,
    comment: str | None = None,
) -> bytes:
    lines: list[str] = []
    if event_id is not None:
        lines.append(f"id:{event_id}")
    if event is not None:
        lines.append(f"event:{event}")
    if status is not None:
        lines.append(f"status:{status}")
    if comment is not None:
        lines.append(f":{comment}")
    lines.extend(f"data:{part}" for part in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def encode_json(payload: Any, **kwargs: Any) -> bytes:
    return encode(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), **kwargs)


def stream_response(events: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> StreamingResponse:
    return StreamingResponse(
        events, media_type="text/event-stream;charset=UTF-8", headers={**SSE_HEADERS, **(headers or {})}
    )
