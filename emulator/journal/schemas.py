"""One journal entry: the request journal (``journal.recorder``) records them from the first request on; the
page and the other control-plane schemas (``control.schemas``) are imported only when a control endpoint is hit."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emulator.wire import WireModel


class JournalFilePart(WireModel):
    field: str
    filename: str
    size: int
    content_type: str | None = None


class JournalForm(WireModel):
    """A multipart request as the upload route parsed it: text fields, and file parts without their bytes."""

    fields: dict[str, list[str]]
    files: list[JournalFilePart]


class NearMiss(WireModel):
    rule: str = Field(description="The rule that came closest.")
    failed: str = Field(description="The condition it failed: path, method, tenant, model, after, times, ...")
    reason: str


class JournalEntry(WireModel):
    seq: int = Field(description="Position in the journal since start (never reused).")
    time: float = Field(description="Emulated Unix time the request arrived.")
    time_iso: str
    wall_time: float = Field(description="Wall-clock Unix time the request arrived.")
    method: str
    path: str
    query: str
    headers: dict[str, str] = Field(description="As sent (names lower-case); Authorization shows a key hint only.")
    tenant: str | None = Field(description="The caller's tenant id; null when authentication failed.")
    tenant_label: str | None = Field(
        None, description="The caller as pages name it: a stable fingerprint of the key, never the key."
    )
    status: int | None = Field(description="HTTP status answered; null when the connection was dropped.")
    duration_ms: float = Field(description="Until the answer started (a stream's first byte).")
    request_id: str | None
    body: Any = Field(None, description="The JSON body, parsed; null when empty, not JSON, or over 64 KiB.")
    body_size: int = Field(description="Bytes of body received.")
    model: str | None = Field(None, description="The JSON body's `model`, when it has one.")
    form: JournalForm | None = None
    rule: str | None = Field(None, description="The response rule that answered this request, if one did.")
    fault: str | None = Field(None, description="The fault rule that struck this request, if one did.")
    near_misses: list[NearMiss] = Field(
        default_factory=list,
        description="No rule answered, but a rule of this path family (`/api/v1/fine-tunes`) or, for generation, "
        "a response rule came closest: which one, and the condition it failed (one per rule book).",
    )
    answer_headers: dict[str, str] = Field(default_factory=dict, description="The answer's headers.")
    answer_body: Any = Field(
        None, description="The answer's body: JSON parsed, or text; its first 16 KiB (cut ones end `...[truncated]`)."
    )
    answer_size: int = Field(0, description="Bytes of answer body sent.")
    frames: list[dict[str, str]] | None = Field(
        None, description="An event-stream answer's frames (`event`, `id`, `data`), from its first 16 KiB."
    )
