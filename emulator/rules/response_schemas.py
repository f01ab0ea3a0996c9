"""A response rule as posted and as stored, and the scripted replies it answers with: the request path's rule
book (``rules.responses``) needs them from the first rule added; the control plane's other schemas
(``control.schemas``) re-export them for its endpoints."""

from __future__ import annotations

from typing import Any

import regex
from pydantic import ConfigDict, Field, field_validator, model_validator

from emulator.rules.fault_schemas import HttpMethod, reachable_path
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
    body: Any = Field(
        None,
        description="A rule with `path`: the JSON answered as it is (any endpoint: a fine-tune's status, a file list).",
    )
    status: int | None = Field(None, ge=200, le=599, description="With `body`: the HTTP status (default 200).")
    passthrough: bool = Field(
        False, description="Let the emulator answer this call as it would without the rule (in a sequence)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedReplySpec:
        answers = self.content is not None or self.tool_calls is not None or self.reasoning_content is not None
        kinds = sum((answers, self.error is not None, self.body is not None, self.passthrough))
        if kinds > 1:
            raise ValueError("a reply is one of: content/tool_calls, an error, a body, or passthrough")
        if self.status is not None and self.body is None:
            raise ValueError("status goes with body (an error carries its own status)")
        return self

    def generation_answer(self) -> bool:
        return self.content is not None or self.tool_calls is not None or self.reasoning_content is not None


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
    count: int | None = Field(None, ge=1, description="The rule retires (is removed) after this many answers.")
    after: int | None = Field(
        None, ge=0, le=1_000_000, description="Let the first N matching calls through, then answer."
    )
    times: int | None = Field(
        None, ge=1, le=1_000_000, description="Answer this many times, then stay listed as spent (`remaining: 0`)."
    )
    path: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        pattern=r"^/",
        description="Answer any endpoint, not only generation: an exact path or a glob (`/api/v1/fine-tunes/*`); "
        "the rule then answers `body` (+ `status`), `error` or `passthrough`, before the emulator would.",
    )
    method: HttpMethod | None = Field(None, description="With `path`: match only this method.")
    replies: list[ScriptedReplySpec] | None = Field(
        None, min_length=1, max_length=100, description="A sequence served one per call; the last one repeats."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _reachable(cls, value: str | None) -> str | None:
        return None if value is None else reachable_path(value, "response rules with a path")

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
        single = self.generation_answer() or self.error is not None or self.body is not None or self.passthrough
        if self.replies is not None and single:
            raise ValueError("give either replies or a single answer (content, tool_calls, error, body), not both")
        if self.replies is None and not single:
            raise ValueError("a rule answers something: content, tool_calls, reasoning_content, error or replies")
        answers = self.replies or [self]
        if self.path is not None:
            chat = [f for f in ("contains", "regex", "tools", "after_tool_result") if getattr(self, f) is not None]
            if chat:
                raise ValueError(f"{', '.join(chat)} match chat messages: give them without path (a generation rule)")
            if any(a.generation_answer() for a in answers):
                raise ValueError(
                    "a rule with path answers body (+ status), error or passthrough; content and tool_calls are "
                    "for generation rules (give model instead of path)"
                )
        else:
            if self.method is not None:
                raise ValueError("method goes with path")
            if any(a.body is not None for a in answers):
                raise ValueError("body answers an endpoint: give the rule a path")
        return self


class ResponseRule(ResponseRuleSpec):
    model_config = ConfigDict(extra="forbid")
    id: str
    hits: int = Field(0, description="Requests the rule answered.")
    matched: int = Field(0, description="Requests that matched (those skipped by `after` did not hit).")
    remaining: int | None = Field(
        None, description="Answers left before the rule is spent (`times`) or removed (`count`); null: unbounded."
    )
