"""Response rules (``/_emulator/responses``): the test decides what the model answers.

WireMock's stubs and aimock's fixtures for a chat model: a rule matches on the model (exact or a glob, the
requested name or its base model), the caller, the last user message (``contains`` / ``regex``), the tools the
request offers and whether it ends with a tool's result; the first matching rule answers, with text, tool calls,
reasoning, an error, or a sequence of those (one per call, the last one repeating).  ``count`` retires a rule
after that many answers; ``after`` lets the first matching calls through and ``times`` spends it.  A rule with a
``path`` answers any endpoint (a JSON ``body``, an ``error``, or ``passthrough``): the gateway asks those
(``strike``) before the route runs.

The store knows nothing of protocols: generation endpoints describe a request as a ``ChatView`` and get back a
``Scripted`` reply (or None), which ``generation.replies`` renders in each protocol's shape (``rules.scripted``).
How a rule matches is ``rules.response_match``; both come with the first rule (or the generation pipeline), so
the book alone is what a server starts with.
"""

from __future__ import annotations

import fnmatch
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope

from emulator.context import RequestContext, scope_context
from emulator.errors import ApiError, InvalidParameter
from emulator.http import strict_json
from emulator.rules.book import RuleBook, rule_error
from emulator.rules.faults import RequestView, in_family

if TYPE_CHECKING:  # imported by the first rule added (most runs add none), not at start
    from pydantic import TypeAdapter

    from emulator.rules.response_match import ActiveRule
    from emulator.rules.response_schemas import ResponseRule, ResponseRuleSpec, ScriptedReplySpec
    from emulator.rules.scripted import ChatView, Scripted


MAX_RULES = 1000
"""Rules a process keeps at most: memory stays bounded whatever a test suite posts."""
MAX_RULE_BYTES = 2 * 1024 * 1024
"""Bytes of one rule as JSON (its replies together): a count alone let 1,000 rules of ~14 MB each in."""
MAX_RULES_BYTES = 64 * 1024 * 1024
"""Bytes of all the rules of a process together."""


class ResponseRules(RuleBook["ResponseRuleSpec", "ResponseRule", "ActiveRule"]):
    """The response rules of this process (each ``--workers`` process has its own, as with faults);
    ``--responses FILE`` the start's."""

    prefix = "response"

    def __init__(self, initial: list[ResponseRuleSpec] | None = None, limit: int = MAX_RULES) -> None:
        super().__init__(initial, limit)

    def _enter(self, spec: ResponseRuleSpec, rule_id: str) -> tuple[ResponseRule, ActiveRule]:
        from emulator.rules.response_match import ActiveRule  # with the first rule: most runs add none
        from emulator.rules.response_schemas import ResponseRule

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
        return rule, ActiveRule(rule, size)

    def _full(self) -> ApiError:
        return InvalidParameter(
            f"There are already {self.limit} response rules: remove some (DELETE /_emulator/responses) first."
        )

    @property
    def rules(self) -> list[ActiveRule]:
        return self._rules

    @rules.setter
    def rules(self, rules: list[ActiveRule]) -> None:
        """Every change of the list (the book assigns a new one) sorts the rules with a ``path``, which the gateway
        asks (``strike``), from the generation rules, which the generation handlers ask (``answer``)."""
        self._rules = rules
        self.endpoints = [r for r in rules if r.spec.path is not None]
        self.chats = [r for r in rules if r.spec.path is None]

    def _hit(self, rule: ActiveRule) -> ScriptedReplySpec:
        self.count_hit(rule.spec)
        return rule.next_reply()

    def answer(self, view: ChatView, request_id: str, ctx: RequestContext | None = None) -> Scripted | None:
        """The first matching generation rule's reply (counted as a hit; its error for the caller to raise), or
        None.  With ``ctx``, the rule that answered is named on it, or, when none did, the rule that came closest
        and the condition it failed are added to its near misses."""
        if not self.chats:
            return None
        from emulator.rules.response_match import PASSED, REGEX_SECONDS, chat_reason  # loaded with the first rule
        from emulator.rules.scripted import to_scripted

        closest: tuple[int, ActiveRule, str] | None = None
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
                closest = (stage, rule, chat_reason(stage, rule.spec, view))
        if closest is not None and ctx is not None:
            ctx.add_near_miss(closest[1].miss(closest[0], closest[2]))
        return None

    async def strike(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        """The gateway's turn, for rules with a ``path``: the answer of the first one that matches (or raises
        its error), or None to go on, with the ``receive`` to go on with (a replay when a rule read the body)."""
        from emulator.rules.response_match import METHOD, MODEL, PASSED, PATH, TENANT  # loaded with the first rule

        request = RequestView(scope, receive)
        ctx = scope_context(scope)
        tenant = ctx.tenant
        method, path = scope["method"], scope["path"]
        closest: tuple[int, ActiveRule, str] | None = None
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
        raise rule_error(reply.error.status, reply.error.code, reply.error.message)
    return JSONResponse(reply.body, status_code=reply.status or 200)


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
