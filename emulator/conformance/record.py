"""``dashscope-emulator record``: a forwarding proxy that writes each exchange in the corpus format.

Point a client at the proxy instead of the service (``DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:8100/api/v1``);
every request goes to ``--upstream`` unchanged (the key too: it is forwarded, never written), the answer comes back
unchanged, streams frame by frame as they arrive, and one JSON file per exchange lands in ``--out``: the request
(method, path, safe headers, body), the answer (status, safe headers, JSON body or SSE frames), with API keys,
signatures, OSS policies and account ids redacted (``corpus.redact``). Bodies are trimmed like the public corpus.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.types import Message, Receive, Scope, Send

from emulator.conformance.corpus import (
    FORMAT,
    KEPT_REQUEST_HEADERS,
    KEPT_RESPONSE_HEADERS,
    REDACTED,
    dump,
    keep_headers,
    parse_multipart,
    parse_sse_lenient,
    redact,
    safe_name,
    trim,
    trim_events,
)

MAX_BODY = 8 * 1024 * 1024
"""Bytes of a request or an answer kept for the record (everything is forwarded; beyond this, the record notes it)."""
_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "content-length",
        "accept-encoding",
    }
)


class Recorder:
    """An ASGI app: forward, answer, record."""

    def __init__(self, upstream: str, out: Path, *, timeout: float = 300.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        start = max((_number(p.name) for p in out.glob("*.json")), default=0)
        self._numbers = itertools.count(start + 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.client)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        path = scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope["query_string"] else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        forwarded = [(k, v) for k, v in headers if k.lower() not in _HOP]
        forwarded.append(("accept-encoding", "identity"))
        request = self.client.build_request(scope["method"], self.upstream + path, headers=forwarded, content=body)
        try:
            answer = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            message = json.dumps({"code": "UpstreamUnreachable", "message": f"record: {exc}"}).encode()
            await send(
                {"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": message})
            return
        kept = bytearray()
        try:
            out_headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in answer.headers.multi_items()
                if k.lower() not in _HOP
            ]
            await send({"type": "http.response.start", "status": answer.status_code, "headers": out_headers})
            async for chunk in answer.aiter_raw():
                if len(kept) < MAX_BODY:
                    kept += chunk[: MAX_BODY - len(kept)]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await answer.aclose()
            self.write(
                scope["method"], path, headers, body, answer.status_code, answer.headers.multi_items(), bytes(kept)
            )

    def write(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        status: int,
        answer_headers: list[tuple[str, str]],
        answer_body: bytes,
    ) -> Path:
        number = next(self._numbers)
        request = {"method": method, "path": redact_path(path), "headers": keep_headers(headers, KEPT_REQUEST_HEADERS)}
        content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        request.update(request_body(body, content_type))
        response: dict[str, Any] = {"status": status, "headers": keep_headers(answer_headers, KEPT_RESPONSE_HEADERS)}
        text = answer_body.decode("utf-8", errors="replace")
        trimmed = len(answer_body) >= MAX_BODY
        if "event-stream" in response["headers"].get("content-type", ""):
            frames = parse_sse_lenient(text)
            events, cut = trim_events(frames)
            response.update(events=redact(events), event_count=len(frames))
            trimmed = trimmed or cut
        else:
            try:
                document, cut = trim(json.loads(text))
                response["json"] = redact(document)
                trimmed = trimmed or cut
            except ValueError:
                response["text"] = redact(text[:2000])
                trimmed = trimmed or len(text) > 2000
        exchange = {
            "format": FORMAT,
            "id": f"{number:04d}-{method.lower()}-{safe_name(urlsplit(path).path.strip('/'))}"[:120],
            "source": {
                "recorder": "dashscope-emulator record",
                "upstream": urlsplit(self.upstream).netloc,
                "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
            "request": redact(request),
            "response": response,
            "trimmed": trimmed,
            "notes": [],
        }
        return dump(exchange, self.out)


def request_body(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "multipart/form-data" in content_type:
        return {"multipart": parse_multipart(body, content_type)}
    text = body[:MAX_BODY].decode("utf-8", errors="replace")
    try:
        document, _ = trim(json.loads(text))
        return {"json": document}
    except ValueError:
        return {"text": text[:2000]}


_QUERY_SECRETS = re.compile(r"([?&](?:api_key|apikey|token|signature|Signature|OSSAccessKeyId)=)[^&]*")


def redact_path(path: str) -> str:
    return _QUERY_SECRETS.sub(lambda m: m.group(1) + REDACTED, path)


def _number(name: str) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send, client: httpx.AsyncClient) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
