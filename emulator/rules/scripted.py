"""What a response rule answers with, and what a generation request shows a rule: the protocol-free types the
generation pipeline renders (``ChatView`` in, ``Scripted`` out).  Imported with the generation pipeline or the
first rule, not at start."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.errors import ApiError
from emulator.rules.book import rule_error

if TYPE_CHECKING:
    from emulator.rules.response_schemas import ScriptedError, ScriptedReplySpec


@dataclass(slots=True)
class ChatView:
    """What a rule matches on, the same for every generation protocol."""

    model: str
    tenant_id: str
    base_model: str | None = None
    last_user_text: str = ""
    tools: tuple[dict[str, Any], ...] = ()
    """Function definitions as both protocols send them: ``{"type": "function", "function": {"name", ...}}``."""
    tool_choice: str | dict[str, Any] | None = None
    after_tool_result: bool = False
    stream: bool = False

    def tool_names(self) -> tuple[str, ...]:
        return tuple(str(t.get("function", {}).get("name")) for t in self.tools if isinstance(t.get("function"), dict))

    def forced_tool(self) -> dict[str, Any] | None:
        """The function definition ``tool_choice`` names, when it names one the request offers."""
        choice = self.tool_choice
        if not isinstance(choice, dict) or not isinstance(choice.get("function"), dict):
            return None
        name = choice["function"].get("name")
        for tool in self.tools:
            function = tool.get("function")
            if isinstance(function, dict) and function.get("name") == name:
                return function
        return None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Scripted:
    """A reply decided by the test (or by a forced ``tool_choice``), before any protocol shape."""

    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: ApiError | None = None
    rule_id: str | None = None


def call_id(request_id: str, index: int) -> str:
    """``call_<24 hex>``: derived from the request id, so a seeded run gives the same ids."""
    return "call_" + hashlib.sha256(f"{request_id}:{index}".encode()).hexdigest()[:24]


def scripted_error(error: ScriptedError) -> ApiError:
    return rule_error(error.status, error.code, error.message)


def to_scripted(reply: ScriptedReplySpec, rule_id: str | None, request_id: str) -> Scripted:
    if reply.error is not None:
        return Scripted(error=scripted_error(reply.error), rule_id=rule_id)
    calls = tuple(
        ToolCall(c.id or call_id(request_id, i), c.name, dict(c.arguments))
        for i, c in enumerate(reply.tool_calls or ())
    )
    usage = reply.usage
    return Scripted(
        content=reply.content,
        reasoning_content=reply.reasoning_content,
        tool_calls=calls,
        finish_reason=reply.finish_reason or ("tool_calls" if calls else "stop"),
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        rule_id=rule_id,
    )
