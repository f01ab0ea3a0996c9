"""What the fault and response rules decide for a batch line: the line is seen as the request it stands for (a
``POST`` of its ``body`` to the compatible path of its ``url``, by the batch's tenant) and the rule books are asked
as the gateway asks them for a request, in the same order: fault rules, then response rules with a ``path``; the
generation rules are asked by the generation pipeline itself (the line's context is handed to it).

A fault's error, or a response rule's ``error``, fails the line (its error-file line); a response rule's ``body``
answers it (status below 400: the output file; 400 and above: the error file, with the status and body in
``response``, as OpenAI writes a request that answered an HTTP error).  A fault that drops the connection fails
the line with ``InternalError``.  ``latency_ms`` is not waited (a line takes no wall time), and stream-only
faults never apply (a line is never a stream).  A line a rule decided, or near-missed, is journalled as the
request it stands for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Scope

from emulator.context import CONTEXT, RequestContext
from emulator.errors import InternalError
from emulator.journal.recorder import Journal
from emulator.rules.faults import FaultRules
from emulator.rules.responses import ResponseRules
from emulator.tenants import Tenant

COMPATIBLE = "/compatible-mode"
"""A line's ``url`` (``/v1/chat/completions``) is served under this prefix: the path its rules match."""
_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Decided:
    """A response rule's scripted answer to a line."""

    status: int
    body: Any


def line_path(url: str) -> str:
    return COMPATIBLE + url


class LineRules:
    """The rule books and the journal, as a batch's lines meet them."""

    def __init__(
        self, faults: FaultRules | None = None, responses: ResponseRules | None = None, journal: Journal | None = None
    ) -> None:
        self.faults = faults or FaultRules()
        self.responses = responses or ResponseRules()
        self.journal = journal

    def active(self) -> bool:
        """Any rule set at all: with none, a line costs nothing here (as a request costs the gateway one check)."""
        return bool(self.faults.rules or self.responses.rules)

    def scope(self, url: str, tenant: Tenant, request_id: str, batch_id: str, custom_id: str) -> Scope:
        """The request a line stands for; its headers name the batch and the line (what the journal shows)."""
        ctx = RequestContext(request_id, tenant=tenant)
        headers = [*_HEADERS, (b"x-batch-id", batch_id.encode()), (b"x-batch-custom-id", custom_id.encode()[:256])]
        return {"type": "http", "method": "POST", "path": line_path(url), "headers": headers, CONTEXT: ctx}

    async def decide(self, scope: Scope, body: dict[str, Any]) -> Decided | None:
        """The faults' and path rules' verdict on a line: raises the error that fails it, answers a scripted
        answer, or None (the pipeline answers)."""
        sent = False

        async def receive() -> Message:  # the body, encoded only if a rule asks for the model
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            seen = {**body, "stream": False} if body.get("stream") else body
            return {"type": "http.request", "body": json.dumps(seen).encode(), "more_body": False}

        if self.faults.rules:
            rule, _ = await self.faults.pick(scope, receive)
            if rule is not None:
                scope[CONTEXT].fault_rule = rule.spec.id
                if rule.spec.drop_connection:
                    raise InternalError(f"The connection was dropped (fault rule {rule.spec.id}).")
                if rule.fails:
                    raise rule.error()
        if self.responses.endpoints:
            scripted, _ = await self.responses.strike(scope, receive)  # raises a rule's error
            if scripted is not None:
                raw = bytes(scripted.body)
                return Decided(scripted.status_code, json.loads(raw) if raw else None)
        return None

    def journal_line(self, scope: Scope, body: dict[str, Any], status: int, answer: str) -> None:
        """The line as a journal entry, when a rule decided it or came close (as the request it stands for)."""
        ctx: RequestContext = scope[CONTEXT]
        if self.journal is None or not (ctx.fault_rule or ctx.response_rule or ctx.near_misses):
            return
        record = self.journal.begin(scope)
        record.add_chunk(json.dumps(body, ensure_ascii=False).encode())
        record.answer_headers = [*_HEADERS, (b"x-request-id", ctx.request_id.encode())]
        record.keep_answer(answer.encode())
        self.journal.finish(record, status)
