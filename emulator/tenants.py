"""Tenancy: every distinct API key (and workspace, when the header is sent) owns its own world.

The gateway (``emulator.gateway``) guards ``/api/v1`` and ``/compatible-mode/v1`` through
``TenantRegistry.from_headers``: it reads ``Authorization: Bearer <key>``, checks the key against ``--api-key``
when keys are configured, and puts the caller's ``Tenant`` on the request state.  Objects of another tenant
are invisible: they answer 404 (or the resource's not-found).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from emulator.db import Database
from emulator.errors import InvalidApiKey, InvalidParameter

PROTECTED_PREFIXES = ("/api/v1", "/compatible-mode/v1", "/compatible-api/v1")
WORKSPACE_HEADER = b"x-dashscope-workspace"
_WORKSPACE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Tenant:
    id: str
    key_hint: str
    workspace: str
    account_id: str
    api_key_id: str
    explicit_workspace: bool


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


LONG_KEY = 20
"""Keys at least this long show their first 5 and last 3 characters in a label; shorter ones only their first 2."""


def key_hint(api_key: str) -> str:
    """A tenant's label, shown wherever a tenant is named (pages, the journal): a stable fingerprint that tells
    every pair of keys apart (``#`` and the first 6 hex digits of the key's SHA-256, the tenant id's start),
    after a prefix and suffix only where the key is long enough to keep most of it hidden:
    ``sk-4f…a9c #1c2d3e``; ``sk-alice`` and ``sk-bob`` are ``sk… #…`` with different fingerprints."""
    fingerprint = _digest(api_key)[:6]
    if len(api_key) < LONG_KEY:
        return f"{api_key[:2]}… #{fingerprint}"
    return f"{api_key[:5]}…{api_key[-3:]} #{fingerprint}"


def tenant_for(api_key: str, workspace: str | None) -> Tenant:
    """Pure: the same key and workspace always map to the same tenant, account id and workspace id."""
    key_digest = _digest(api_key)
    account_id = str(10**15 + int(key_digest[:12], 16) % (9 * 10**15))
    default_ws = "llm-" + key_digest[12:28]
    tenant_id = key_digest[:16] if workspace is None else f"{key_digest[:16]}:{workspace}"
    return Tenant(
        id=tenant_id,
        key_hint=key_hint(api_key),
        workspace=workspace or default_ws,
        account_id=account_id,
        api_key_id=str(10000 + int(key_digest[28:36], 16) % 90000),
        explicit_workspace=workspace is not None,
    )


def tenant_names(value: str) -> frozenset[str]:
    """What a caller can be named by in the control plane: a tenant id, or an API key (its tenant id)."""
    return frozenset({value, tenant_for(value, None).id})


def tenant_matches(tenant_id: str, names: frozenset[str]) -> bool:
    """A key's tenant also covers its workspace tenants (``<id>:<workspace>``)."""
    return tenant_id in names or tenant_id.split(":", 1)[0] in names


MAX_CACHED_TENANTS = 10_000
"""(key, workspace) pairs resolved without a database write; the oldest is forgotten past this (it is in the db)."""
MAX_API_KEY = 256
"""Characters of an API key (real ones are about 35): a longer one is ``InvalidApiKey`` before anything is cached,
so the caches hold at most ``MAX_CACHED_TENANTS`` entries of at most ``MAX_AUTH_HEADER`` + 64 bytes each (~6 MB)."""
MAX_AUTH_HEADER = MAX_API_KEY + 64


class TenantRegistry:
    """Resolves keys to tenants and records each tenant once (the dashboard lists them)."""

    def __init__(self, db: Database, api_keys: tuple[str, ...] = ()) -> None:
        self.db = db
        self.api_keys = frozenset(api_keys)
        self._known: dict[tuple[str, str | None], Tenant] = {}
        self._by_header: dict[tuple[bytes | None, bytes | None], Tenant] = {}

    async def from_headers(
        self, authorization: bytes | None, workspace: bytes | None, now: Callable[[], float]
    ) -> Tenant:
        """The caller of a protected request, from its raw header values: ``InvalidApiKey`` without a usable
        key (or with one not in ``--api-key``), ``InvalidParameter`` for a malformed workspace.

        A pair of header values seen before answers from a dict: parsing, hashing and the tenant's row happen
        once per caller, not once per request.
        """
        cache_key = (authorization, workspace)
        tenant = self._by_header.get(cache_key)
        if tenant is not None:
            return tenant
        api_key = parse_bearer(authorization)
        if self.api_keys and api_key not in self.api_keys:
            raise InvalidApiKey()
        tenant = await self.resolve(api_key, parse_workspace(workspace), now())
        if len(self._by_header) >= MAX_CACHED_TENANTS:
            self._by_header.pop(next(iter(self._by_header)))
        self._by_header[cache_key] = tenant
        return tenant

    async def resolve(self, api_key: str, workspace: str | None, now: float) -> Tenant:
        cache_key = (api_key, workspace)
        tenant = self._known.get(cache_key)
        if tenant is None:
            tenant = tenant_for(api_key, workspace)
            async with self.db.transaction() as tx:
                await tx.execute(
                    "INSERT OR IGNORE INTO tenants (id, key_hint, workspace, account_id, created_at)"
                    " VALUES (?,?,?,?,?)",
                    (tenant.id, tenant.key_hint, tenant.workspace, tenant.account_id, now),
                )
            if len(self._known) >= MAX_CACHED_TENANTS:  # a client minting keys cannot grow the cache without bound
                self._known.pop(next(iter(self._known)))
            self._known[cache_key] = tenant
        return tenant

    def forget(self) -> None:
        self._known.clear()
        self._by_header.clear()


def parse_bearer(value: bytes | None) -> str:
    if not value:
        raise InvalidApiKey("No API-key provided.")
    if len(value) > MAX_AUTH_HEADER:
        raise InvalidApiKey()
    try:
        text = value.decode("latin-1").strip()
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise InvalidApiKey() from exc
    scheme, _, key = text.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_API_KEY or any(ch.isspace() for ch in key):
        raise InvalidApiKey()
    return key


def parse_workspace(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if not text:
        return None
    if not _WORKSPACE_RE.match(text):
        raise InvalidParameter("X-DashScope-WorkSpace must be 1-64 letters, digits, '-', '_', '.' or ':'.")
    return text


def auth_headers(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """The raw ``Authorization`` and workspace header values (the last of each, as ``dict(headers)`` keeps)."""
    auth = workspace = None
    for name, value in headers:
        if name == b"authorization":
            auth = value
        elif name == WORKSPACE_HEADER:
            workspace = value
    return auth, workspace
