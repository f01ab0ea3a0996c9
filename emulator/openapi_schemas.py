"""The error bodies the OpenAPI document names for every operation (``emulator.openapi``, imported when the
document is built)."""

from __future__ import annotations

from emulator.wire import WireModel


class ErrorBody(WireModel):
    """Every native error: a DashScope code and message, and the request id (also the x-request-id header)."""

    request_id: str
    code: str
    message: str


class OpenAIErrorDetail(WireModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(WireModel):
    error: OpenAIErrorDetail
    request_id: str
