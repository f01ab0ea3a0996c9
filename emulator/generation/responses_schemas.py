"""The Responses API's request and answers as the OpenAPI document shows them (reference 2026-apps §3).

The handlers read a request as a plain object, leniently, as the service does (``responses_service.turn``: unknown
fields pass, hosted tools are accepted and not run), and render answers with ``renderers.responses``; these models
describe those shapes for ``/openapi.json`` and ``/docs``, and ``tests/generation/test_responses_api.py`` checks
real answers against them.  The routes name them as ``"module:Name"`` strings, so a server's start-up does not
import this module.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from emulator.wire import WireModel


class ResponseCreateRequest(WireModel):
    """``POST /compatible-mode/v1/responses``."""

    model: str = Field(min_length=1, description="A model that serves the Responses API (e.g. qwen-plus, qwen3-max).")
    input: str | list[dict[str, Any]] = Field(
        description="A user message as a string, or items: messages (`role`, `content` as a string or "
        "`input_text` parts), `function_call` and `function_call_output` items."
    )
    instructions: str | None = Field(None, description="A system message put before everything else.")
    previous_response_id: str | None = Field(
        None, description="Continue a stored response: its input and output come before this `input`."
    )
    store: bool | None = Field(None, description="Keep the response for 7 days (default true).")
    stream: bool | None = Field(
        None,
        description="Answer Server-Sent Events: `response.created` ... `response.completed`; a refused request "
        "is one `response.failed` event.",
    )
    tools: list[dict[str, Any]] | None = Field(
        None,
        description='Flat function tools (`{"type": "function", "name", "description", "parameters"}`); hosted '
        "tools (web_search, mcp, ...) are accepted and not run.",
    )
    tool_choice: str | dict[str, Any] | None = Field(
        None,
        description='"auto" (default), "none", "required", `{"type": "function", "name": ...}` or '
        '`{"type": "allowed_tools", "mode": ...}`; "required" or a function is refused on a call that thinks.',
    )
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = Field(
        None, description='`{"format": {"type": "json_schema", "name", "schema", "strict"}}` for typed output.'
    )
    reasoning: dict[str, Any] | None = None
    enable_thinking: bool | None = None
    max_output_tokens: int | None = Field(None, ge=16)
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    truncation: str | None = None
    metadata: dict[str, Any] | None = None
    include: list[str] | None = None
    conversation: str | dict[str, Any] | None = Field(None, description="Exclusive with `previous_response_id`.")


class OutputText(WireModel):
    type: Literal["output_text"]
    text: str
    annotations: list[Any]
    logprobs: list[Any]


class MessageItem(WireModel):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    status: str
    content: list[OutputText]


class SummaryText(WireModel):
    type: Literal["summary_text"]
    text: str


class ReasoningItem(WireModel):
    id: str
    type: Literal["reasoning"]
    summary: list[SummaryText]


class FunctionCallItem(WireModel):
    id: str
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str = Field(description="The arguments as a JSON text.")
    status: str


class InputTokensDetails(WireModel):
    cached_tokens: int


class OutputTokensDetails(WireModel):
    reasoning_tokens: int


class ResponseUsage(WireModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int
    x_details: list[dict[str, Any]] = Field(description="Per billing type (`x_billing_type: response_api`).")


class ResponseError(WireModel):
    code: str
    message: str


class ResponseObject(WireModel):
    """A response: what create answers (and the last event of a stream carries), what retrieve answers."""

    id: str
    object: Literal["response"]
    created_at: int
    model: str
    status: Literal["queued", "in_progress", "completed", "incomplete", "failed"]
    error: ResponseError | None
    incomplete_details: dict[str, Any] | None
    output: list[ReasoningItem | MessageItem | FunctionCallItem]
    usage: ResponseUsage | None = None
    instructions: str | None
    max_output_tokens: int | None
    parallel_tool_calls: bool
    previous_response_id: str | None
    reasoning: dict[str, Any] | None
    store: bool
    temperature: float | None
    text: dict[str, Any]
    tool_choice: str | dict[str, Any] | None
    tools: list[dict[str, Any]]
    top_p: float | None
    truncation: str | None
    metadata: dict[str, Any]


class ResponseDeleted(WireModel):
    id: str
    object: Literal["response.deleted"]
    deleted: bool


class ResponseInputItems(WireModel):
    """A page of a stored response's input items (messages, function calls and their outputs)."""

    object: Literal["list"]
    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool
    id: str
    model: str | None
    created_at: int = Field(description="Milliseconds.")
    previous_response_id: str | None
