"""A response rule as posted and as stored, and the scripted replies it answers with: the request path's rule
book (``rules.responses``) needs them from the first rule added; the control plane's other schemas
(``control.schemas``) re-export them for its endpoints."""

from __future__ import annotations

from typing import Any

import regex
from pydantic import ConfigDict, Field, field_validator, model_validator

from emulator.wire import WireModel


class ScriptedToolCall(WireModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256, description="The function the model calls.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="The arguments object (sent as a JSON string where the protocol wants one)."
    )
    id: str | None = Field(None, min_length=1, max_length=128, description="The call id; `call_<hex>` by default.")


class ScriptedUsage(WireModel):
    model_config = ConfigDict(extra="forbid")
    input_tokens: int | None = Field(None, ge=0, le=10_000_000)
    output_tokens: int | None = Field(None, ge=0, le=10_000_000)


class ScriptedError(WireModel):
    model_config = ConfigDict(extra="forbid")
    status: int = Field(400, ge=400, le=599, description="HTTP status.")
    code: str | None = Field(
        None, min_length=1, max_length=128, description="Error code (`DataInspectionFailed`, `Throttling`, ...)."
    )
    message: str | None = Field(None, max_length=2000)


class ScriptedReplySpec(WireModel):
    """One answer: ``content`` and/or ``tool_calls`` (with optional ``reasoning_content``), or an ``error``."""

    model_config = ConfigDict(extra="forbid")
    content: str | None = Field(None, max_length=1_000_000, description="The assistant's text.")
    tool_calls: list[ScriptedToolCall] | None = Field(None, min_length=1, max_length=16)
    reasoning_content: str | None = Field(None, max_length=1_000_000, description="A thinking model's reasoning.")
    finish_reason: str | None = Field(
        None, min_length=1, max_length=64, description="Default `tool_calls` when there are calls, else `stop`."
    )
    usage: ScriptedUsage | None = Field(None, description="Token counts to report instead of the counted ones.")
    error: ScriptedError | None = Field(None, description="Answer this error instead of a reply.")

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedReplySpec:
        answers = self.content is not None or self.tool_calls is not None or self.reasoning_content is not None
        if self.error is not None and answers:
            raise ValueError("a reply is either an error or content/tool_calls, not both")
        return self


class ResponseRuleSpec(ScriptedReplySpec):
    """A response rule as posted: what it matches (every given field must match), and what it answers.

    It answers ``content``/``tool_calls`` (+ ``reasoning_content``, ``finish_reason``, ``usage``), or an
    ``error``, or ``replies``: one per call, the last one repeating.
    """

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="The requested model or its base model: exact, or a glob (`qwen-*`, `*-ft-*`).",
    )
    tenant: str | None = Field(
        None, min_length=1, max_length=256, description="Match only this caller: an API key or a tenant id."
    )
    contains: str | None = Field(
        None, min_length=1, max_length=10_000, description="A substring of the last user message's text."
    )
    regex: str | None = Field(
        None, min_length=1, max_length=1000, description="A regular expression searched in the last user message."
    )
    tools: bool | str | None = Field(
        None,
        description="`true`: the request offers tools; `false`: it offers none; a name: it offers that function.",
    )
    after_tool_result: bool | None = Field(
        None,
        description="`true`: the request ends with a tool's result (a tool call's follow-up); `false`: it does not.",
    )
    count: int | None = Field(None, ge=1, description="The rule retires after this many answers.")
    replies: list[ScriptedReplySpec] | None = Field(
        None, min_length=1, max_length=100, description="A sequence served one per call; the last one repeats."
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                regex.compile(value)  # the engine rules match with (emulator.rules.responses)
            except regex.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _answers_something(self) -> ResponseRuleSpec:
        single = (
            self.content is not None
            or self.tool_calls is not None
            or self.reasoning_content is not None
            or self.error is not None
        )
        if self.replies is not None and single:
            raise ValueError("give either replies or a single answer (content, tool_calls, error), not both")
        if self.replies is None and not single:
            raise ValueError("a rule answers something: content, tool_calls, reasoning_content, error or replies")
        return self


class ResponseRule(ResponseRuleSpec):
    model_config = ConfigDict(extra="forbid")
    id: str
    hits: int = Field(0, description="Requests the rule answered.")
