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
    status: int | None = Field(description="HTTP status answered; null when the connection was dropped.")
    duration_ms: float = Field(description="Until the answer started (a stream's first byte).")
    request_id: str | None
    body: Any = Field(None, description="The JSON body, parsed; null when empty, not JSON, or over 64 KiB.")
    body_size: int = Field(description="Bytes of body received.")
    form: JournalForm | None = None
    rule: str | None = Field(None, description="The response rule that answered this request, if one did.")
