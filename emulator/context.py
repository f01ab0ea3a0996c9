"""One request's context: what the gateway learns about a request, and what later layers leave for the journal
and the stream producer, in one typed object (``scope[CONTEXT]``) instead of string keys on the request state.

The gateway creates it first thing (the request id); then, on a public request, it sets the caller's tenant,
and a stream-only fault rule that hit leaves itself for the stream producer.  A generation answered by a
response rule names the rule, an upload leaves what it parsed of its form: the journal reads both when the
request is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import Scope

from emulator.tenants import Tenant

if TYPE_CHECKING:
    from emulator.rules.fault_schemas import FaultRule

CONTEXT = "emulator.context"
"""The scope key of a request's ``RequestContext``."""


@dataclass(slots=True, eq=False)
class RequestContext:
    request_id: str
    tenant: Tenant | None = None
    """The caller of a public request (``/api/v1``, ``/compatible-mode/v1``), once authenticated."""
    admin: bool | None = None
    """Under ``--admin-token``: whether a ``/_emulator`` request showed the token (or the dashboard's cookie)."""
    stream_fault: FaultRule | None = None
    """A stream-only fault rule that hit this request: the stream producer applies it (``generation.replies``)."""
    response_rule: str | None = None
    """The response rule that answered this generation request (the journal names it)."""
    upload_form: dict[str, Any] | None = None
    """What the upload route parsed of a multipart body: fields, and file parts without their bytes (journal)."""
    fault_rule: str | None = None
    """The fault rule that struck this request (the journal names it)."""
    near_misses: list[dict[str, str]] | None = None
    """No rule answered: per rule book, the closest rule of the request's path family and the condition it failed
    (``{"rule", "failed", "reason"}``; the journal lists them)."""

    def add_near_miss(self, miss: dict[str, str]) -> None:
        if self.near_misses is None:
            self.near_misses = [miss]
        else:
            self.near_misses.append(miss)


def scope_context(scope: Scope) -> RequestContext:
    found: RequestContext = scope[CONTEXT]
    return found


def context(request: Request) -> RequestContext:
    """The typed way from a request to its context (the gateway set it on every HTTP request)."""
    found: RequestContext = request.scope[CONTEXT]
    return found


def caller(request: Request) -> Tenant:
    """The authenticated caller of a public request: the gateway sets it before any public route runs."""
    tenant = context(request).tenant
    if tenant is None:  # a route of the public API mounted outside its prefixes: a bug, answered as a 500
        raise RuntimeError(f"no authenticated caller on {request.url.path}")
    return tenant
