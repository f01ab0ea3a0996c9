"""The request journal: the last ``--journal-size`` public requests, so a test can assert what its client sent.

Each /api/v1 and /compatible-mode/v1 request is kept in a ring with its headers (the API key masked to a
hint), its tenant, status, timing and body: a JSON body parsed (up to 64 KiB), a multipart upload as the
fields and file-part names/sizes/content types the upload route parsed — never a file's bytes.  A request to a
path the emulator does not serve (404/405) has its unread body read before the answer, so the journal shows
what a client sent to an endpoint that is not emulated yet; a generation request answered by a response rule
names it (``rule``).  Recording
costs little on the request path: raw headers and body chunks are kept as they are and only turned into
JSON when the journal is read (the emulated time too, from the clock state in force at arrival).
``--journal-size 0`` turns recording off altogether (the gateway, ``emulator.gateway``, records nothing).
"""

from __future__ import annotations

import fnmatch
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.types import Message, Receive, Scope

from emulator.clock import Clock, ClockState, fmt_iso
from emulator.context import scope_context
from emulator.errors import MalformedBody
from emulator.http import parse_json
from emulator.tenants import key_hint, tenant_matches, tenant_names

if TYPE_CHECKING:
    from emulator.journal.schemas import JournalEntry

MAX_BODY = 64 * 1024
"""JSON bodies up to this size are kept (and parsed when read); bigger ones are recorded by size only."""
MAX_HEADER_VALUE = 1024
"""Each header value is kept up to this many bytes (an entry's headers are bounded by the server's header limit)."""
MAX_FORM_VALUE = 1024
MAX_FORM_BYTES = 16 * 1024
"""An upload's form fields: each value cut at ``MAX_FORM_VALUE`` characters, all values together at
``MAX_FORM_BYTES``; the first 100 file parts are listed.  Without this a ring of 1000 uploads with 16 MB
of fields each held gigabytes."""
MAX_FORM_FILES = 100
TRUNCATED = "...[truncated]"

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

UNSERVED = frozenset({404, 405})
"""Answers after which a body nobody read is read for the journal: a client calling what is not emulated yet."""
MAX_ANSWER = 16 * 1024
"""The first bytes of each answer kept (its headers whole): an SSE answer's first frames, an error's envelope."""
SECRET_HEADERS = frozenset({"api-key", "x-api-key", "cookie", "x-emulator-token", "proxy-authorization"})
"""Headers shown as a label (like the Authorization key), never as sent."""


class Record:
    """One request as it was seen; turned into a ``JournalEntry`` only when the journal is read."""

    __slots__ = (
        "seq",
        "wall_time",
        "clock_state",
        "started",
        "method",
        "path",
        "query",
        "headers",
        "ctx",
        "answer_headers",
        "answer_chunks",
        "answer_size",
        "chunks",
        "body_size",
        "capture",
        "status",
        "duration_ms",
    )

    def __init__(self, seq: int, clock_state: ClockState | None, scope: Scope) -> None:
        self.seq = seq
        self.wall_time = time.time()
        self.clock_state = clock_state
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.ctx = scope_context(scope)
        self.answer_headers: list[tuple[bytes, bytes]] = []
        self.answer_chunks: list[bytes] = []
        self.answer_size = 0
        self.chunks: list[bytes] = []
        self.body_size = 0
        self.capture: bool | None = None  # decided at the first body chunk: never for multipart
        self.status: int | None = None
        self.duration_ms = -1.0

    def add_chunk(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.capture is None:
            content_type = next((v for k, v in self.headers if k == b"content-type"), b"")
            self.capture = b"multipart/" not in content_type
        if self.capture and self.body_size <= MAX_BODY:
            self.chunks.append(chunk)

    def keep_answer(self, chunk: bytes) -> None:
        """A chunk of the answer's body: kept while the answer's first ``MAX_ANSWER`` bytes last."""
        size = self.answer_size
        if size < MAX_ANSWER and chunk:
            self.answer_chunks.append(chunk if size + len(chunk) <= MAX_ANSWER else chunk[: MAX_ANSWER - size])
        self.answer_size = size + len(chunk)

    @property
    def time(self) -> float:
        """Emulated time at arrival, from the clock state then in force (a state is never changed once replaced)."""
        s = self.clock_state
        if s is None:
            return self.wall_time
        return s.anchor_emulated + (self.wall_time - s.anchor_wall) * s.time_scale


class Journal:
    def __init__(self, size: int, clock: Clock | None = None) -> None:
        self.size = size
        self.clock = clock
        self._ring: deque[Record] = deque(maxlen=max(size, 1))
        self._seq = 0

    def begin(self, scope: Scope) -> Record:
        self._seq += 1
        return Record(self._seq, self.clock.state if self.clock is not None else None, scope)

    def begin_http(self, scope: Scope, receive: Receive) -> tuple[Record, Receive]:
        """A public request's record, and the ``receive`` that keeps its body chunks as the app reads them."""
        record = self.begin(scope)
        if record.method not in _BODY_METHODS:
            return record, receive

        async def receive_body() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                record.add_chunk(message.get("body", b""))
            return message

        return record, receive_body

    async def answered(self, record: Record, status: int, receive: Receive) -> None:
        """The answer started: a body nobody read (an unserved path, a rule's answer) is read for the record, then
        it is kept."""
        if record.capture is None and record.method in _BODY_METHODS and _unread_matters(record, status):
            await _read_unread_body(record, receive)
        self.finish(record, status)

    def finish(self, record: Record, status: int | None) -> None:
        if record.duration_ms < 0:
            record.status = status
            record.duration_ms = (time.perf_counter() - record.started) * 1000
            _bound(record)
            self._ring.append(record)

    def clear(self) -> int:
        removed = len(self._ring)
        self._ring.clear()
        return removed

    def __len__(self) -> int:
        return len(self._ring)

    def select(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        tenant: str | None = None,
        status: int | None = None,
        model: str | None = None,
    ) -> Iterator[Record]:
        """Newest first.  ``path`` is exact or a glob; ``tenant`` a tenant id or an API key; ``model`` the JSON
        body's ``model``, exact or a glob."""
        tenants = tenant_names(tenant) if tenant else None
        glob = path is not None and any(ch in path for ch in "*?[")
        for record in reversed(self._ring):
            if method is not None and record.method != method.upper():
                continue
            if path is not None and not (fnmatch.fnmatchcase(record.path, path) if glob else record.path == path):
                continue
            if tenants is not None:
                owner = record.ctx.tenant
                if owner is None or not tenant_matches(owner.id, tenants):
                    continue
            if status is not None and record.status != status:
                continue
            if model is not None and not fnmatch.fnmatchcase(record_model(record) or "", model):
                continue
            yield record


def _bound(record: Record) -> None:
    """What a kept entry may hold: a bounded prefix of each header value and of the upload's form."""
    for _, value in record.headers:
        if len(value) > MAX_HEADER_VALUE:
            record.headers = [(name, _cut_bytes(value)) for name, value in record.headers]
            break
    form = record.ctx.upload_form
    if form is not None:
        record.ctx.upload_form = bounded_form(form)


def _cut_bytes(value: bytes) -> bytes:
    return value if len(value) <= MAX_HEADER_VALUE else value[:MAX_HEADER_VALUE] + TRUNCATED.encode()


def bounded_form(form: dict[str, Any]) -> dict[str, Any]:
    budget = MAX_FORM_BYTES
    fields: dict[str, list[str]] = {}
    for name, values in (form.get("fields") or {}).items():
        kept = fields.setdefault(str(name)[:MAX_FORM_VALUE], [])
        for value in values:
            text = str(value)
            cut = text[: min(MAX_FORM_VALUE, max(budget, 0))]
            budget -= len(cut)
            kept.append(cut if cut == text else cut + TRUNCATED)
    files = [
        {**part, "filename": str(part.get("filename", ""))[:MAX_FORM_VALUE]}
        for part in list(form.get("files") or [])[:MAX_FORM_FILES]
    ]
    return {"fields": fields, "files": files}


def record_model(record: Record) -> str | None:
    body = _body(record)
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def entry(record: Record) -> JournalEntry:
    from emulator.journal.schemas import JournalEntry  # pydantic: when the journal is first read, not at start

    ctx = record.ctx
    tenant = ctx.tenant
    body = _body(record)
    model = body.get("model") if isinstance(body, dict) else None
    answer_headers = _headers(record.answer_headers)
    answer_body, frames = _answer(record, answer_headers.get("content-type", ""))
    return JournalEntry(
        seq=record.seq,
        time=record.time,
        time_iso=fmt_iso(record.time),
        wall_time=record.wall_time,
        method=record.method,
        path=record.path,
        query=record.query.decode("latin-1"),
        headers=_headers(record.headers),
        tenant=tenant.id if tenant is not None else None,
        tenant_label=tenant.key_hint if tenant is not None else None,
        status=record.status,
        duration_ms=round(record.duration_ms, 3),
        request_id=ctx.request_id,
        body=body,
        body_size=record.body_size,
        model=model if isinstance(model, str) else None,
        form=ctx.upload_form,  # type: ignore[arg-type]  # a dict the schema validates
        rule=ctx.response_rule,
        fault=ctx.fault_rule,
        near_misses=ctx.near_misses or [],  # type: ignore[arg-type]  # dicts the schema validates
        answer_headers=answer_headers,
        answer_body=answer_body,
        answer_size=record.answer_size,
        frames=frames,
    )


def _answer(record: Record, content_type: str) -> tuple[Any, list[dict[str, str]] | None]:
    """The kept answer: JSON parsed when whole, else text; an event stream as its frames."""
    raw = b"".join(record.answer_chunks)
    if not raw:
        return None, None
    whole = record.answer_size <= MAX_ANSWER
    text = raw.decode("utf-8", "replace")
    if "text/event-stream" in content_type:
        return None, sse_frames(text, whole)
    if "json" in content_type and whole:
        try:
            return parse_json(raw), None
        except MalformedBody:
            pass
    if content_type.startswith(("text/", "application/json")) or "json" in content_type:
        return text if whole else text + TRUNCATED, None
    return None, None


def sse_frames(text: str, whole: bool = True) -> list[dict[str, str]]:
    """Server-sent events as ``{"event"?, "id"?, "data"}``: a last frame cut by the bound is marked."""
    frames: list[dict[str, str]] = []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    for index, block in enumerate(blocks):
        if not block.strip():
            continue
        frame: dict[str, str] = {}
        data: list[str] = []
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name in ("event", "id") and value:
                frame[name] = value
            elif name == "" and value.strip():
                frame.setdefault("comment", value.strip())
        frame["data"] = "\n".join(data)
        if not whole and index == len(blocks) - 1:
            frame["data"] += TRUNCATED
        frames.append(frame)
    return frames


def _unread_matters(record: Record, status: int) -> bool:
    """A body nobody read is worth reading for the journal: an unserved path's, or one a rule answered without
    reading (a fault, an endpoint response rule): what the client sent is what the test wants to see."""
    return status in UNSERVED or record.ctx.fault_rule is not None or record.ctx.response_rule is not None


async def _read_unread_body(record: Record, receive: Receive) -> None:
    """The body of a request nobody read (an unserved path), up to ``MAX_BODY`` + 1 bytes: enough to keep it or
    to know it was too big."""
    while record.body_size <= MAX_BODY:
        message = await receive()
        if message["type"] != "http.request":
            return
        record.add_chunk(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "authorization":
            scheme, _, secret = text.partition(" ")
            text = f"{scheme} {key_hint(secret.strip())}" if secret.strip() else scheme
        elif key in SECRET_HEADERS and text.strip():
            text = key_hint(text.strip())
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _body(record: Record) -> Any:
    if not record.capture or record.body_size > MAX_BODY:
        return None
    try:
        return parse_json(b"".join(record.chunks))
    except MalformedBody:  # deep, invalid or with lone surrogates: the API refused it, the journal keeps its size
        return None
