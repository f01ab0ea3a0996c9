"""Response rules (``/_emulator/responses``): the test decides what the model answers.

WireMock's stubs and aimock's fixtures for a chat model: a rule matches on the model (exact or a glob, the
requested name or its base model), the caller, the last user message (``contains`` / ``regex``), the tools the
request offers and whether it ends with a tool's result; the first matching rule answers, with text, tool calls,
reasoning, an error, or a sequence of those (one per call, the last one repeating).  ``count`` retires a rule
after that many answers.

The store knows nothing of protocols: generation endpoints describe a request as a ``ChatView`` and get back a
``Scripted`` reply (or None), which ``generation.replies`` renders in each protocol's shape.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex
from pydantic import TypeAdapter, ValidationError

from emulator.errors import ApiError, InvalidParameter
from emulator.http import strict_json
from emulator.rules.book import RuleBook, rule_error
from emulator.tenants import tenant_matches, tenant_names

if TYPE_CHECKING:  # imported by the first rule added (most runs add none), not at start
    from emulator.rules.response_schemas import ResponseRule, ResponseRuleSpec, ScriptedError, ScriptedReplySpec


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


REGEX_SECONDS = 0.02
"""What all the rules' regexes of one request may spend together (the ``regex`` package stops a search at its
timeout): a catastrophic pattern or a long prompt costs one request this much, never the event loop more.  The
package checks its clock coarsely (measured: a 10 ms timeout stops a quadratic search after ~30-300 ms on a
loaded machine), hence a small figure."""
log = logging.getLogger("emulator")


@dataclass(eq=False)
class _Active:
    spec: ResponseRule
    size: int = 0
    """Bytes of the rule as JSON (what ``MAX_RULE_BYTES`` and ``MAX_RULES_BYTES`` count)."""
    tenants: frozenset[str] | None = field(init=False, default=None)
    pattern: regex.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.spec.tenant is not None:
            self.tenants = tenant_names(self.spec.tenant)
        if self.spec.regex is not None:
            self.pattern = regex.compile(self.spec.regex)

    def matches(self, view: ChatView, deadline: float = float("inf")) -> bool:
        s = self.spec
        if s.model is not None and not any(
            fnmatch.fnmatchcase(m, s.model) for m in (view.model, view.base_model) if m is not None
        ):
            return False
        if self.tenants is not None and not tenant_matches(view.tenant_id, self.tenants):
            return False
        if s.contains is not None and s.contains not in view.last_user_text:
            return False
        if self.pattern is not None and not self._search(self.pattern, view.last_user_text, deadline):
            return False
        if s.after_tool_result is not None and s.after_tool_result != view.after_tool_result:
            return False
        return _tools_match(s.tools, view)

    def _search(self, pattern: regex.Pattern[str], text: str, deadline: float) -> bool:
        """A match within the request's regex time; a search that runs out of it is no match (and logged)."""
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        try:
            return pattern.search(text, timeout=left) is not None
        except TimeoutError:
            log.warning("response rule %s: its regex ran out of time on a %d-character prompt", self.spec.id, len(text))
            return False

    def next_reply(self) -> ScriptedReplySpec:
        """The reply of this hit (``hits`` already counts it): ``replies`` one per call, the last repeating."""
        replies = self.spec.replies
        if not replies:
            return self.spec
        return replies[min(self.spec.hits, len(replies)) - 1]


def _tools_match(wanted: bool | str | None, view: ChatView) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, bool):
        return wanted == bool(view.tools)
    return wanted in view.tool_names()


MAX_RULES = 1000
"""Rules a process keeps at most: memory stays bounded whatever a test suite posts."""
MAX_RULE_BYTES = 2 * 1024 * 1024
"""Bytes of one rule as JSON (its replies together): a count alone let 1,000 rules of ~14 MB each in."""
MAX_RULES_BYTES = 64 * 1024 * 1024
"""Bytes of all the rules of a process together."""


class ResponseRules(RuleBook["ResponseRuleSpec", "ResponseRule", _Active]):
    """The response rules of this process (each ``--workers`` process has its own, as with faults);
    ``--responses FILE`` the start's."""

    prefix = "response"

    def __init__(self, initial: list[ResponseRuleSpec] | None = None, limit: int = MAX_RULES) -> None:
        super().__init__(initial, limit)

    def _enter(self, spec: ResponseRuleSpec, rule_id: str) -> tuple[ResponseRule, _Active]:
        from emulator.rules.response_schemas import ResponseRule  # with the first rule: most runs add none

        size = len(spec.model_dump_json(exclude_none=True).encode())
        if size > MAX_RULE_BYTES:
            raise InvalidParameter(f"The rule is {size} bytes as JSON; a response rule holds at most {MAX_RULE_BYTES}.")
        if size + sum(entry.size for entry in self.rules) > MAX_RULES_BYTES:
            raise InvalidParameter(
                f"The response rules would hold more than {MAX_RULES_BYTES} bytes: remove some "
                "(DELETE /_emulator/responses) first."
            )
        rule = ResponseRule(**spec.model_dump(), id=rule_id)
        return rule, _Active(rule, size)

    def _full(self) -> ApiError:
        return InvalidParameter(
            f"There are already {self.limit} response rules: remove some (DELETE /_emulator/responses) first."
        )

    def answer(self, view: ChatView, request_id: str) -> Scripted | None:
        """The first matching rule's reply (counted as a hit), or None."""
        deadline = time.perf_counter() + REGEX_SECONDS
        for rule in self.rules:
            if rule.matches(view, deadline):
                self.count_hit(rule.spec)
                return to_scripted(rule.next_reply(), rule.spec.id, request_id)
        return None


@cache
def _specs() -> TypeAdapter[list[ResponseRuleSpec]]:
    from emulator.rules.response_schemas import ResponseRuleSpec

    return TypeAdapter(list[ResponseRuleSpec])


def _invalid(path: Path, exc: ValidationError) -> ValueError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "file"
    return ValueError(f"{path} is not a JSON list of response rules: {where}: {first['msg']}")


def load_rules(path: Path) -> list[ResponseRuleSpec]:
    """``--responses FILE``: a JSON list of rules, as ``POST /_emulator/responses`` takes them one by one."""
    try:
        specs = _specs().validate_python(strict_json(path.read_bytes()))
    except OSError as exc:
        raise ValueError(f"cannot read the responses file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, or NaN/Infinity in it (ValidationError is a ValueError: caught below)
        if isinstance(exc, ValidationError):
            raise _invalid(path, exc) from None
        raise ValueError(f"{path} is not a JSON list of response rules: {exc}") from None
    if len(specs) > MAX_RULES:
        raise ValueError(f"{path} holds {len(specs)} response rules, more than the {MAX_RULES} a process keeps")
    return specs
