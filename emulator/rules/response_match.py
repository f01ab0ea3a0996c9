"""How a response rule matches a request (``emulator.rules.responses``' entries): the conditions in the order they
are tried, how far a request got (the near misses), and the reason a near miss failed.  Imported with the first
rule added (most runs add none), not at start."""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulator.rules.scripted import ChatView
from emulator.tenants import tenant_matches, tenant_names

if TYPE_CHECKING:
    import regex

    from emulator.rules.response_schemas import ResponseRule, ScriptedReplySpec


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
class ActiveRule:
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


def chat_reason(stage: int, s: ResponseRule, view: ChatView) -> str:
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
