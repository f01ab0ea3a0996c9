"""Response rules (``/_emulator/responses``): the test decides what the model answers.

WireMock's stubs and aimock's fixtures for a chat model: a rule matches on the model (exact or a glob, the
requested name or its base model), the caller, the last user message (``contains`` / ``regex``), the tools the
request offers and whether it ends with a tool's result; the first matching rule answers, with text, tool calls,
reasoning, an error, or a sequence of those (one per call, the last one repeating).  ``count`` retires a rule
after that many answers; ``after`` lets the first matching calls through and ``times`` spends it.  A rule with a
``path`` answers any endpoint (a JSON ``body``, an ``error``, or ``passthrough``): the gateway asks those
(``strike``) before the route runs.

The store knows nothing of protocols: generation endpoints describe a request as a ``ChatView`` and get back a
``Scripted`` reply (or None), which ``generation.replies`` renders in each protocol's shape.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope

from emulator.context import RequestContext, scope_context
from emulator.errors import ApiError, InvalidParameter
from emulator.http import strict_json
from emulator.rules.book import RuleBook, rule_error
from emulator.rules.faults import RequestView, in_family
from emulator.tenants import tenant_matches, tenant_names

if TYPE_CHECKING:  # imported by the first rule added (most runs add none), not at start
    import regex
    from pydantic import TypeAdapter

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


# How far a view got through a rule's conditions, in the order they are tried: the closest miss got furthest.
PATH, METHOD, MODEL, TENANT, CONTAINS, REGEX, AFTER_TOOL, TOOLS, AFTER, TIMES, PASSED = range(11)
_STAGES = ("path", "method", "model", "tenant", "contains", "regex", "after_tool_result", "tools", "after", "times")
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
    path_pattern: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.spec.tenant is not None:
            self.tenants = tenant_names(self.spec.tenant)
        if self.spec.regex is not None:
            import regex  # with the first rule that has one

            self.pattern = regex.compile(self.spec.regex)
        if self.spec.path is not None and any(ch in self.spec.path for ch in "*?["):
            self.path_pattern = re.compile(fnmatch.translate(self.spec.path))

    def matches(self, view: ChatView, deadline: float = float("inf")) -> bool:
        return self.failed_stage(view, deadline) == PASSED

    def failed_stage(self, view: ChatView, deadline: float = float("inf")) -> int:
        """The first condition a generation request fails, or PASSED."""
        s = self.spec
        if s.model is not None and not any(
            fnmatch.fnmatchcase(m, s.model) for m in (view.model, view.base_model) if m is not None
        ):
            return MODEL
        if self.tenants is not None and not tenant_matches(view.tenant_id, self.tenants):
            return TENANT
        if s.contains is not None and s.contains not in view.last_user_text:
            return CONTAINS
        if self.pattern is not None and not self._search(self.pattern, view.last_user_text, deadline):
            return REGEX
        if s.after_tool_result is not None and s.after_tool_result != view.after_tool_result:
            return AFTER_TOOL
        return PASSED if _tools_match(s.tools, view) else TOOLS

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

    def path_matches(self, path: str) -> bool:
        if self.path_pattern is not None:
            return self.path_pattern.match(path) is not None
        return path == self.spec.path

    def endpoint_stage(self, method: str, path: str, tenant_id: str | None) -> int:
        """The first condition an endpoint request fails (but the body's model), or PASSED."""
        s = self.spec
        if not self.path_matches(path):
            return PATH
        if s.method is not None and s.method != method:
            return METHOD
        if self.tenants is not None and (tenant_id is None or not tenant_matches(tenant_id, self.tenants)):
            return TENANT
        return PASSED

    def count(self) -> int:
        """A request that matched everything: skipped (``after``), spent (``times``), or to be a hit (PASSED:
        ``remaining`` already counts it; the book counts the hit)."""
        s = self.spec
        s.matched += 1
        if s.after is not None and s.matched <= s.after:
            return AFTER
        if s.times is not None and s.hits >= s.times:
            return TIMES
        limit = s.times if s.times is not None else s.count
        if limit is not None:
            s.remaining = max(0, limit - s.hits - 1)
        return PASSED

    def next_reply(self) -> ScriptedReplySpec:
        """The reply of this hit (``hits`` already counts it): ``replies`` one per call, the last repeating."""
        replies = self.spec.replies
        if not replies:
            return self.spec
        return replies[min(self.spec.hits, len(replies)) - 1]

    def miss(self, stage: int, detail: str) -> dict[str, str]:
        s = self.spec
        reasons = {
            AFTER: f"after: matching call {s.matched} of the {s.after} let through first",
            TIMES: f"times: spent after {s.times} answers",
        }
        return {"rule": s.id, "failed": _STAGES[stage], "reason": reasons.get(stage, detail)}


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
        limit = spec.times if spec.times is not None else spec.count
        rule = ResponseRule(**spec.model_dump(), id=rule_id, remaining=limit)
        return rule, _Active(rule, size)

    def _full(self) -> ApiError:
        return InvalidParameter(
            f"There are already {self.limit} response rules: remove some (DELETE /_emulator/responses) first."
        )

    @property
    def rules(self) -> list[_Active]:
        return self._rules

    @rules.setter
    def rules(self, rules: list[_Active]) -> None:
        """Every change of the list (the book assigns a new one) sorts the rules with a ``path``, which the gateway
        asks (``strike``), from the generation rules, which the generation handlers ask (``answer``)."""
        self._rules = rules
        self.endpoints = [r for r in rules if r.spec.path is not None]
        self.chats = [r for r in rules if r.spec.path is None]

    def _hit(self, rule: _Active) -> ScriptedReplySpec:
        self.count_hit(rule.spec)
        return rule.next_reply()

    def answer(self, view: ChatView, request_id: str, ctx: RequestContext | None = None) -> Scripted | None:
        """The first matching generation rule's reply (counted as a hit; its error for the caller to raise), or
        None.  With ``ctx``, the rule that answered is named on it, or, when none did, the rule that came closest
        and the condition it failed are added to its near misses."""
        closest: tuple[int, _Active, str] | None = None
        deadline = time.perf_counter() + REGEX_SECONDS
        for rule in self.chats:
            stage = rule.failed_stage(view, deadline)
            if stage == PASSED:
                stage = rule.count()
            if stage == PASSED:
                reply = self._hit(rule)
                if ctx is not None:
                    ctx.response_rule = rule.spec.id
                return None if reply.passthrough else to_scripted(reply, rule.spec.id, request_id)
            if ctx is not None and (closest is None or stage > closest[0]):
                closest = (stage, rule, _chat_reason(stage, rule.spec, view))
        if closest is not None and ctx is not None:
            ctx.add_near_miss(closest[1].miss(closest[0], closest[2]))
        return None

    async def strike(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        """The gateway's turn, for rules with a ``path``: the answer of the first one that matches (or raises
        its error), or None to go on, with the ``receive`` to go on with (a replay when a rule read the body)."""
        request = RequestView(scope, receive)
        ctx = scope_context(scope)
        tenant = ctx.tenant
        method, path = scope["method"], scope["path"]
        closest: tuple[int, _Active, str] | None = None
        for rule in self.endpoints:
            stage = rule.endpoint_stage(method, path, tenant.id if tenant is not None else None)
            detail = ""
            if stage == PASSED and rule.spec.model is not None:
                model = await request.model()
                if model is None or not fnmatch.fnmatchcase(model, rule.spec.model):
                    stage, detail = MODEL, f"model {model!r}, the rule wants {rule.spec.model!r}"
            if stage == PASSED:
                stage = rule.count()
            if stage == PASSED:
                reply = self._hit(rule)
                ctx.response_rule = rule.spec.id
                return _endpoint_answer(reply), request.receive
            if closest is None or stage > closest[0]:
                closest = (stage, rule, detail)
        if closest is not None:
            stage, rule, detail = closest
            if in_family(rule.spec.path or "", path):
                if stage == PATH:
                    detail = f"path {path} does not match {rule.spec.path}"
                elif stage == METHOD:
                    detail = f"method {method}, the rule wants {rule.spec.method}"
                elif stage == TENANT:
                    detail = f"tenant: the caller is not {rule.spec.tenant}"
                ctx.add_near_miss(rule.miss(stage, detail))
        return None, request.receive


def _endpoint_answer(reply: ScriptedReplySpec) -> Response | None:
    if reply.passthrough:
        return None
    if reply.error is not None:
        raise scripted_error(reply.error)
    return JSONResponse(reply.body, status_code=reply.status or 200)


def _chat_reason(stage: int, s: ResponseRule, view: ChatView) -> str:
    if stage == MODEL:
        return f"model {view.model!r}, the rule wants {s.model!r}"
    if stage == TENANT:
        return f"tenant: the caller is not {s.tenant}"
    if stage == CONTAINS:
        return f"contains {s.contains!r}: not in the last user message {_cut(view.last_user_text)!r}"
    if stage == REGEX:
        return f"regex {s.regex!r}: not found in the last user message {_cut(view.last_user_text)!r}"
    if stage == AFTER_TOOL:
        ends = "ends" if view.after_tool_result else "does not end"
        return f"after_tool_result {s.after_tool_result}: the request {ends} with a tool result"
    if stage == TOOLS:
        return f"tools {s.tools!r}: the request offers {list(view.tool_names()) or 'none'}"
    return ""


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@cache
def _specs() -> TypeAdapter[list[ResponseRuleSpec]]:
    from pydantic import TypeAdapter

    from emulator.rules.response_schemas import ResponseRuleSpec

    return TypeAdapter(list[ResponseRuleSpec])


def load_rules(path: Path) -> list[ResponseRuleSpec]:
    """``--responses FILE``: a JSON list of rules, as ``POST /_emulator/responses`` takes them one by one."""
    try:
        specs = _specs().validate_python(strict_json(path.read_bytes()))
    except OSError as exc:
        raise ValueError(f"cannot read the responses file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, or NaN/Infinity in it (a ValidationError is a ValueError: the rules')
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise ValueError(f"{path} is not a JSON list of response rules: {exc}") from None
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ValueError(f"{path} is not a JSON list of response rules: {where}: {first['msg']}") from None
    if len(specs) > MAX_RULES:
        raise ValueError(f"{path} holds {len(specs)} response rules, more than the {MAX_RULES} a process keeps")
    return specs
