"""What the debugging pages show (Requests, a request, Rules, a deployment): plain values for the templates.

The journal's records are read here as the control plane reads them (``control.journal.entry``): bodies are as
the journal bounds them, the Authorization header is a key label, never a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulator.dashboard.store import TenantRecord
from emulator.deployments.states import SCALABLE
from emulator.deployments.states import TRANSITIONS as DEPLOYMENT_TRANSITIONS
from emulator.deployments.store import DeploymentRow
from emulator.journal.recorder import Record, entry
from emulator.journal.schemas import JournalEntry
from emulator.runtime import Runtime
from emulator.services import Services

REQUESTS_PAGE = 200
"""Rows the Requests page lists (the journal holds ``--journal-size``, 1000 by default)."""
FILTERS = ("tenant", "method", "path", "status", "model")


@dataclass(frozen=True)
class RequestFilters:
    tenant: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    model: str | None = None

    @classmethod
    def parse(cls, query: dict[str, str]) -> tuple[RequestFilters, str | None]:
        """The filters of the page's query, and what was wrong with them (the page says it, never a 500)."""
        raw = {name: (query.get(name) or "").strip() or None for name in FILTERS}
        status, error = None, None
        if raw["status"] is not None:
            try:
                status = int(raw["status"])
            except ValueError:
                error = f"Status must be a number (got {raw['status']!r})."
        path = raw["path"]
        if path is not None and not path.startswith("/") and not any(ch in path for ch in "*?["):
            path = f"*{path}*"  # a fragment: find requests whose path contains it
        return cls(raw["tenant"], raw["method"], path, status, raw["model"]), error

    @property
    def active(self) -> bool:
        return any(getattr(self, name) is not None for name in FILTERS)


@dataclass(frozen=True)
class RequestsPage:
    filters: RequestFilters
    error: str | None
    entries: list[JournalEntry]
    total: int
    capacity: int
    methods: list[str]


def requests_page(rt: Runtime, filters: RequestFilters, error: str | None) -> RequestsPage:
    found = rt.journal.select(
        method=filters.method,
        path=filters.path,
        tenant=filters.tenant,
        status=filters.status,
        model=filters.model,
    )
    records: list[Record] = []
    total = 0
    for record in found:
        total += 1
        if len(records) < REQUESTS_PAGE:
            records.append(record)
    methods = sorted({r.method for r in rt.journal.select()})
    return RequestsPage(
        filters, error, [entry(r) for r in records], total, rt.settings.journal_size, methods or ["GET", "POST"]
    )


def find_request(rt: Runtime, seq: int) -> JournalEntry | None:
    for record in rt.journal.select():
        if record.seq == seq:
            return entry(record)
    return None


def pretty(value: Any) -> str:
    """A body for a ``<pre>``: JSON indented, text as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleRow:
    kind: str  # "fault" or "response"
    id: str
    matches: str
    answers: str
    matched: int
    hits: int
    remaining: int | None
    rule: dict[str, Any]

    @property
    def state(self) -> str:
        """``never matched``, ``matched, never hit`` (skipped, spared), ``spent``, or ``active``."""
        if self.remaining == 0:
            return "spent"
        if not self.matched:
            return "never matched"
        if not self.hits:
            return "matched, never hit"
        return "active"


_FAULT_MATCH = ("method", "path", "tenant", "model")
_RESPONSE_MATCH = ("method", "path", "model", "tenant", "contains", "regex", "tools", "after_tool_result")


def _matches(rule: dict[str, Any], keys: tuple[str, ...]) -> str:
    parts = [f"{k}={rule[k]}" if k not in ("method", "path") else str(rule[k]) for k in keys if rule.get(k) is not None]
    for key in ("after", "times", "count"):
        if rule.get(key) is not None:
            parts.append(f"{key}={rule[key]}")
    if rule.get("probability", 1.0) != 1.0:
        parts.append(f"p={rule['probability']:g}")
    return " ".join(parts) or "any request"


def _fault_answers(rule: dict[str, Any]) -> str:
    parts = []
    if rule.get("latency_ms"):
        parts.append(f"wait {rule['latency_ms']} ms")
    if rule.get("drop_connection"):
        parts.append("drop the connection")
    for key in ("after_chunks", "drop_after_chunks", "chunk_delay_ms", "first_chunk_delay_ms"):
        if rule.get(key) is not None:
            parts.append(f"{key}={rule[key]}")
    if rule.get("status") or rule.get("code") or not parts:
        parts.append(f"{rule.get('status') or 503} {rule.get('code') or ''}".strip())
    return ", ".join(parts)


def _reply(reply: dict[str, Any]) -> str:
    if reply.get("passthrough"):
        return "passthrough"
    if reply.get("error"):
        error = reply["error"]
        return f"error {error.get('status')} {error.get('code') or ''}".strip()
    if reply.get("body") is not None:
        return f"{reply.get('status') or 200} {json.dumps(reply['body'], ensure_ascii=False)[:80]}"
    if reply.get("tool_calls"):
        return "tool calls: " + ", ".join(str(c.get("name")) for c in reply["tool_calls"])
    text = str(reply.get("content") or reply.get("reasoning_content") or "")
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _response_answers(rule: dict[str, Any]) -> str:
    replies = rule.get("replies")
    if replies:
        return " → ".join(_reply(r) for r in replies) + " (last repeats)"
    return _reply(rule)


def rule_rows(rt: Runtime) -> tuple[list[RuleRow], list[RuleRow]]:
    faults = [
        RuleRow(
            "fault",
            r.id,
            _matches(d := r.model_dump(), _FAULT_MATCH),
            _fault_answers(d),
            r.matched,
            r.hits,
            r.remaining,
            d,
        )
        for r in rt.faults.list()
    ]
    responses = [
        RuleRow(
            "response",
            r.id,
            _matches(d := r.model_dump(), _RESPONSE_MATCH),
            _response_answers(d),
            r.matched,
            r.hits,
            r.remaining,
            d,
        )
        for r in rt.responses.list()
    ]
    return faults, responses


# ---------------------------------------------------------------------------------------------------- deployments


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: float
    note: str = ""


@dataclass(frozen=True)
class DeploymentPage:
    row: DeploymentRow
    tenant: TenantRecord
    history: list[StatusChange]
    targets: list[str]

    @property
    def status(self) -> str:
        return self.row.status.value

    @property
    def scalable(self) -> bool:
        return self.row.status in SCALABLE


def status_history(row: DeploymentRow, now: float) -> list[StatusChange]:
    """The statuses a deployment went through, from its schedule: the times it moved (up to ``now``)."""
    s = row.schedule
    changes = [StatusChange("PENDING", s.created_at, "created")]
    ends = [t for t in (s.failed_at, s.deleting_at) if t is not None]
    cut = min(ends) if ends else now
    if s.deploy_at <= min(cut, now):
        changes.append(StatusChange("DEPLOYING", s.deploy_at, "instances starting"))
    if s.running_at <= min(cut, now):
        changes.append(StatusChange("RUNNING", s.running_at, "serving"))
    if s.ready_base_at > s.running_at and s.ready_base_at <= min(cut, now):
        changes.append(StatusChange("UPDATING", s.ready_base_at, f"scaling to {s.capacity}"))
    if s.failed_at is not None and s.failed_at <= now:
        changes.append(StatusChange("FAILED", s.failed_at, row.message or ""))
    if s.deleting_at is not None and s.deleting_at <= now:
        changes.append(StatusChange("DELETING", s.deleting_at, "delete requested"))
    return sorted(changes, key=lambda c: c.at)


async def deployment_page(rt: Runtime, services: Services, tenant: TenantRecord, name: str) -> DeploymentPage:
    row = await services.deployments.get_deployment(tenant.as_tenant(), name)  # NotFound when gone
    targets = sorted(t.value for t in DEPLOYMENT_TRANSITIONS.get(row.status, ()))
    return DeploymentPage(row, tenant, status_history(row, rt.clock.now()), targets)
