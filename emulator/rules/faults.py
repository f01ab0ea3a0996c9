"""Fault injection (LocalStack's chaos API, MockServer's chaos profiles): rules that make public requests fail.

A rule matches on path (exact or glob), method, caller and the JSON body's ``model``; a matching request is
hit with the rule's ``probability`` (rolled on a generator derived from ``--seed``, the rule id and the
rule's match count, so a seeded run hits the same requests every time).  A hit waits ``latency_ms`` (wall
time: it exists to trip client timeouts), then drops the connection, answers the error in the normal
envelope, or — a latency-only rule — lets the request through.  The first rule that hits wins; a rule
with ``count`` is removed after that many hits.

A rule with ``after_chunks``, ``drop_after_chunks``, ``chunk_delay_ms`` or ``first_chunk_delay_ms`` acts inside
a stream: it matches only requests that ask for one (SSE headers, or ``"stream": true``), and instead of
answering it leaves itself on the request's context (``RequestContext.stream_fault``) for the stream producer,
which sends N chunks and then the error frame, or closes the connection, or drips the chunks
(``generation.replies``).

Only /api/v1 and /compatible-mode/v1 are subject to faults, never /_emulator.  With no rules the
gateway (``emulator.gateway``) does not look at them: one attribute check per request.  Faults strike after
authentication (the service throttles accounts, not anonymous callers), so an unauthenticated request still
gets its 401.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakMethod

from starlette.types import Message, Receive, Scope

from emulator.context import scope_context
from emulator.errors import ApiError, MalformedBody, TooMany
from emulator.http import parse_json, strict_json
from emulator.ids import Ids
from emulator.protocol import close_connection
from emulator.rules.book import RuleBook, rule_error
from emulator.tenants import tenant_matches, tenant_names

if TYPE_CHECKING:  # pydantic and the rule schemas come with the first rule (most runs add none), not at start
    from pydantic import TypeAdapter

    from emulator.rules.fault_schemas import FaultRule, FaultRuleSpec

SERVER_SEND = "emulator.server_send"
"""Scope key where the app keeps the ASGI server's own ``send``: a dropped connection needs its transport."""

MAX_RULES = 1000
"""Default of ``--max-fault-rules``: every public request walks the list."""

MODEL_PEEK_LIMIT = 1024 * 1024
"""A ``model`` rule reads at most this much of a JSON body to find the model (then replays it downstream)."""


@dataclass(eq=False)
class ActiveRule:
    """A stored rule plus what matching needs, precomputed."""

    spec: FaultRule
    _pattern: re.Pattern[str] | None = field(init=False, default=None)
    tenants: frozenset[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if any(ch in self.spec.path for ch in "*?["):
            self._pattern = re.compile(fnmatch.translate(self.spec.path))
        if self.spec.tenant is not None:
            self.tenants = tenant_names(self.spec.tenant)

    def path_matches(self, path: str) -> bool:
        return self._pattern.match(path) is not None if self._pattern is not None else path == self.spec.path

    @property
    def stream_only(self) -> bool:
        """A rule that acts inside a stream (chunk delays, an error or a drop after N chunks)."""
        s = self.spec
        return any(
            v is not None for v in (s.after_chunks, s.drop_after_chunks, s.chunk_delay_ms, s.first_chunk_delay_ms)
        )

    @property
    def fails(self) -> bool:
        s = self.spec
        if self.stream_only:
            return False
        return bool(s.status or s.code or s.message or s.retry_after is not None) or not s.latency_ms

    def error(self) -> ApiError:
        return fault_error(self.spec)


def fault_error(s: FaultRule) -> ApiError:
    """The error a fault rule answers (at once, or as a stream's error frame)."""
    headers = {"Retry-After": f"{s.retry_after:g}"} if s.retry_after is not None else None
    return rule_error(s.status or 503, s.code, s.message, headers)


class FaultRules(RuleBook["FaultRuleSpec", "FaultRule", ActiveRule]):
    """The fault rules of this process (each ``--workers`` process has its own); ``--faults FILE`` the start's."""

    prefix = "fault"

    def __init__(
        self, ids: Ids | None = None, initial: list[FaultRuleSpec] | None = None, limit: int = MAX_RULES
    ) -> None:
        self.ids = ids or Ids(None)
        super().__init__(initial, limit)

    def _enter(self, spec: FaultRuleSpec, rule_id: str) -> tuple[FaultRule, ActiveRule]:
        limit = spec.times if spec.times is not None else spec.count
        from emulator.rules.fault_schemas import FaultRule

        rule = FaultRule(**spec.model_dump(), id=rule_id, remaining=limit)
        return rule, ActiveRule(rule)

    def _full(self) -> ApiError:
        return TooMany(f"{len(self.rules)} fault rules are set, the limit (--max-fault-rules); delete some first.")

    async def strike(
        self, scope: Scope, receive: Receive, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    ) -> Receive | None:
        """Applies the first rule that hits a public request: waits its latency, then drops the connection
        (answers None: nothing more to do), raises its error, or leaves a stream rule on the request's context.
        Otherwise answers the ``receive`` to go on with (a replay when a rule had to read the body)."""
        rule, receive = await self.pick(scope, receive)
        if rule is None:
            return receive
        scope_context(scope).fault_rule = rule.spec.id
        if rule.spec.latency_ms:
            await sleep(rule.spec.latency_ms / 1000)
        if rule.spec.drop_connection:
            await drop_connection(scope)
            return None
        if rule.stream_only:
            scope_context(scope).stream_fault = rule.spec
        elif rule.fails:
            raise rule.error()
        return receive

    async def pick(self, scope: Scope, receive: Receive) -> tuple[ActiveRule | None, Receive]:
        """The first rule that hits this request, and the ``receive`` to pass on (a replay if the body was read).

        When none hits, the rule of the request's path family that came closest is added to the request's
        ``near_misses`` with the condition it failed, for the journal."""
        request = RequestView(scope, receive)
        closest: tuple[int, ActiveRule] | None = None
        for rule in self.rules:
            stage = request.failed_stage(rule)
            if stage == PASSED and rule.spec.model is not None and rule.spec.model != await request.model():
                stage = MODEL
            if stage == PASSED and rule.stream_only and not await request.streaming():
                stage = STREAM
            if stage == PASSED:
                stage = self._count(rule)
            if stage == PASSED:
                return rule, request.receive
            if closest is None or stage > closest[0]:
                closest = (stage, rule)
        if closest is not None:
            miss = await near_miss(request, *closest)
            if miss is not None:
                scope_context(scope).add_near_miss(miss)
        return None, request.receive

    def _count(self, rule: ActiveRule) -> int:
        """A rule that matched everything: skipped (``after``), spent (``times``), spared (probability), or hit."""
        spec = rule.spec
        spec.matched += 1
        if spec.after is not None and spec.matched <= spec.after:
            return AFTER
        if spec.times is not None and spec.hits >= spec.times:
            return TIMES
        if spec.probability < 1.0 and self.ids.rng("fault", spec.id, spec.matched).random() >= spec.probability:
            return PROBABILITY
        limit = spec.times if spec.times is not None else spec.count
        if limit is not None:
            spec.remaining = max(0, limit - spec.hits - 1)
        self.count_hit(spec)
        return PASSED


# How far a request got through a rule's conditions, in the order they are tried: the closest miss got furthest.
PATH, METHOD, TENANT, MODEL, STREAM, AFTER, TIMES, PROBABILITY, PASSED = range(9)
_STAGES = ("path", "method", "tenant", "model", "stream", "after", "times", "probability")


def path_family(path: str) -> str:
    """``/api/v1/fine-tunes``: the first three segments, what a near miss is reported within."""
    return "/".join(path.split("/", 4)[:4])


def in_family(pattern: str, path: str) -> bool:
    """Whether a rule's path (exact or a glob) is of a request path's family: the same first three segments, or
    a glob broader than them that covers the path."""
    literal = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
    return path_family(literal) == path_family(path) or (literal != pattern and path.startswith(literal))


async def near_miss(request: RequestView, stage: int, rule: ActiveRule) -> dict[str, str] | None:
    """Which condition the closest rule failed, if it is of the request's path family (else None)."""
    spec, scope = rule.spec, request.scope
    path = scope["path"]
    if not in_family(spec.path, path):
        return None
    if stage == PATH:
        why = f"path {path} does not match {spec.path}"
    elif stage == METHOD:
        why = f"method {scope['method']}, the rule wants {spec.method}"
    elif stage == TENANT:
        why = f"tenant: the caller is not {spec.tenant}"
    elif stage == MODEL:
        why = f"model {await request.model()!r}, the rule wants {spec.model!r}"
    elif stage == STREAM:
        why = "not a stream: the rule acts inside streams"
    elif stage == AFTER:
        why = f"after: matching call {spec.matched} of the {spec.after} let through first"
    elif stage == TIMES:
        why = f"times: spent after {spec.times} hits"
    else:
        why = f"probability {spec.probability:g}: spared this time"
    return {"rule": spec.id, "failed": _STAGES[stage], "reason": why}


GENERATION_PATHS = ("/api/v1/services/", "/compatible-mode/")
"""Where the streams that apply stream faults live (native, multimodal and OpenAI-compatible generation)."""


class RequestView:
    """What rules match on, worked out lazily: most rules need only the path and the method."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self._body: dict[str, Any] | None | bool = False  # False: not read yet

    def failed_stage(self, rule: ActiveRule) -> int:
        """Everything but the body's model, which costs a read: the first condition that fails, or PASSED."""
        spec = rule.spec
        if spec.method is not None and spec.method != self.scope["method"]:
            return METHOD if rule.path_matches(self.scope["path"]) else PATH
        if not rule.path_matches(self.scope["path"]):
            return PATH
        if rule.tenants is not None:
            tenant = scope_context(self.scope).tenant
            if tenant is None or not tenant_matches(tenant.id, rule.tenants):
                return TENANT
        return PASSED

    async def model(self) -> str | None:
        body = await self.body()
        model = body.get("model") if body is not None else None
        return model if isinstance(model, str) else None

    async def streaming(self) -> bool:
        """Asks for a generation stream: a POST to a generation endpoint with native SSE headers, or an
        OpenAI-style ``"stream": true``.  Other event streams (``GET /fine-tunes/{id}/stream``) cannot apply a
        stream fault, so they do not spend one."""
        if self.scope["method"] != "POST" or not self.scope["path"].startswith(GENERATION_PATHS):
            return False
        headers = dict(self.scope["headers"])
        if headers.get(b"x-dashscope-sse", b"").strip().lower() == b"enable":
            return True
        if b"text/event-stream" in headers.get(b"accept", b""):
            return True
        body = await self.body()
        return body is not None and body.get("stream") is True

    async def body(self) -> dict[str, Any] | None:
        if self._body is False:
            self._body = await self._read_body()
        return self._body  # type: ignore[return-value]

    async def _read_body(self) -> dict[str, Any] | None:
        headers = dict(self.scope["headers"])
        if self.scope["method"] not in ("POST", "PUT", "PATCH") or b"multipart" in headers.get(b"content-type", b""):
            return None
        messages: list[Message] = []
        size, more = 0, True
        while more and size <= MODEL_PEEK_LIMIT:
            message = await self.receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        self.receive = _replay(messages, self.receive)
        if more or size > MODEL_PEEK_LIMIT:
            return None
        try:
            body = parse_json(b"".join(m.get("body", b"") for m in messages))
        except MalformedBody:  # the handler will refuse it with the reason
            return None
        return body if isinstance(body, dict) else None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def drop_connection(scope: Scope) -> None:
    """Close the client's connection without a byte of answer.

    ASGI has no message for this, so it reaches the server's transport through the ``send`` uvicorn gave the
    app (``protocol.close_connection``).  Under a server without a reachable transport (httpx's in-process ASGI
    transport) the app simply returns without answering, and that server decides what the client sees.
    """
    send = scope.get(SERVER_SEND)
    if isinstance(send, WeakMethod):
        send = send()
    await close_connection(send)


@cache
def _rules() -> TypeAdapter[list[FaultRuleSpec]]:
    """Built with the first ``--faults`` file: a validator built at import would cost every start-up the build and
    pydantic's scan for plugins."""
    from pydantic import TypeAdapter

    from emulator.rules.fault_schemas import FaultRuleSpec

    return TypeAdapter(list[FaultRuleSpec])


def load_rules(path: Path) -> list[FaultRuleSpec]:
    """``--faults FILE``: a JSON list of rules."""
    try:
        return _rules().validate_python(strict_json(path.read_bytes()))
    except OSError as exc:
        raise ValueError(f"cannot read the faults file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, NaN/Infinity in it, or not rules (a ValidationError)
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise ValueError(f"{path} is not a JSON list of fault rules: {exc}") from None
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ValueError(f"{path} is not a JSON list of fault rules: {where}: {first['msg']}") from None
