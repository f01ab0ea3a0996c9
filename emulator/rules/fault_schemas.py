"""A fault rule as posted and as stored: the request path's fault store (``rules.faults``) needs them at start,
the rest of the control plane's schemas (``control.schemas``, which re-exports these) only when a control
endpoint is hit."""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from emulator.tenants import PROTECTED_PREFIXES
from emulator.wire import WireModel

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class FaultRuleSpec(WireModel):
    """One fault rule as posted (or listed in ``--faults FILE``).  Everything but ``path`` is optional.

    A rule with only ``latency_ms`` delays and then answers normally; with neither ``status``, ``code``,
    ``message`` nor ``drop_connection`` and no latency it answers 503 ``ServiceUnavailable``.
    """

    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^/",
        description="An exact path, or a glob (`*` matches any characters, `/` included): "
        "`/api/v1/fine-tunes/*`.  Only /api/v1 and /compatible-mode/v1 requests are matched.",
    )
    method: HttpMethod | None = Field(None, description="Match only this method (any when absent).")
    status: int | None = Field(None, ge=400, le=599, description="HTTP status of the injected error.")
    code: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Error code in the envelope; by default the service's code for the status.",
    )
    message: str | None = Field(None, max_length=2000, description="Error message in the envelope.")
    retry_after: float | None = Field(None, ge=0, le=86400, description="Seconds, sent as a Retry-After header.")
    latency_ms: int | None = Field(
        None, ge=0, le=300_000, description="Wall-clock delay before the answer (or before passing the request on)."
    )
    drop_connection: bool = Field(False, description="Close the connection without any answer.")
    probability: float = Field(
        1.0, ge=0, le=1, description="Chance that a matching request is hit; reproducible under --seed."
    )
    count: int | None = Field(None, ge=1, description="The rule expires (is removed) after this many hits.")
    after: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="Let the first N matching calls through untouched, then act: `after: 1` is the second call.",
    )
    times: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Act this many times, then stay listed as spent (`remaining: 0`) and let calls through.",
    )
    tenant: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Match only this caller: an API key, or a tenant id as the journal shows it.",
    )
    model: str | None = Field(
        None, min_length=1, max_length=256, description="Match only requests whose JSON body has this `model`."
    )
    after_chunks: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Streams only: send this many chunks, then the error (`status`/`code`/`message`) as the "
        "protocol's stream error frame.",
    )
    drop_after_chunks: int | None = Field(
        None, ge=0, le=100_000, description="Streams only: close the connection after this many chunks."
    )
    chunk_delay_ms: int | None = Field(
        None, ge=0, le=60_000, description="Streams only: wall-clock pause between chunks (a slow drip)."
    )
    first_chunk_delay_ms: int | None = Field(
        None,
        ge=0,
        le=300_000,
        description="Streams only: wall-clock pause before the first chunk (time to first token).",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _public_only(cls, value: str) -> str:
        return reachable_path(value, "faults")


class FaultRule(FaultRuleSpec):
    """A stored rule: the spec plus its id and how often it matched and hit."""

    model_config = ConfigDict(extra="forbid")
    id: str
    hits: int = Field(0, description="Requests the rule answered (or delayed, or dropped).")
    matched: int = Field(
        0, description="Requests that matched; those skipped by `after`, or spared by probability < 1, did not hit."
    )
    remaining: int | None = Field(
        None, description="Hits left before the rule is spent (`times`) or removed (`count`); null: unbounded."
    )


def reachable_path(value: str, what: str) -> str:
    """A rule's path (exact or a glob) that some public request can match: one of the served prefixes, or a path
    below one, must fit it; else ``ValueError`` naming the prefixes."""
    if value.startswith("/_emulator"):
        raise ValueError(f"{what} apply to the public API only ({', '.join(PROTECTED_PREFIXES)}), never /_emulator")
    tokens = _glob_tokens(value)
    if any(_fits_under(tokens, prefix) for prefix in PROTECTED_PREFIXES):
        return value
    raise ValueError(
        f"{value} can never match: {what} apply to requests under {' or '.join(PROTECTED_PREFIXES)} "
        "(write the whole path, e.g. /api/v1/fine-tunes/*)"
    )


def _glob_tokens(pattern: str) -> list[str]:
    """``*``, ``?``, a ``[...]`` class, or one literal character each (fnmatch's syntax)."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end > 0:
                tokens.append(pattern[i : end + 1])
                i = end + 1
                continue
        tokens.append(ch)
        i += 1
    return tokens


def _one(token: str, ch: str) -> bool:
    if token == "?":
        return True
    if token.startswith("[") and len(token) > 1:
        return fnmatch.fnmatchcase(ch, token)
    return token == ch


def _fits_under(tokens: list[str], prefix: str) -> bool:
    """Whether the glob matches ``prefix`` itself or some ``prefix/...``: its positions after reading the prefix
    (a small NFA), then the end of the pattern, or anything that can take a ``/`` next."""

    def closure(states: set[int]) -> set[int]:
        out, todo = set(states), list(states)
        while todo:
            i = todo.pop()
            if i < len(tokens) and tokens[i] == "*" and i + 1 not in out:
                out.add(i + 1)
                todo.append(i + 1)
        return out

    states = closure({0})
    for ch in prefix:
        nxt: set[int] = set()
        for i in states:
            if i < len(tokens):
                if tokens[i] == "*":
                    nxt.add(i)
                elif _one(tokens[i], ch):
                    nxt.add(i + 1)
        states = closure(nxt)
        if not states:
            return False
    return any(i == len(tokens) or tokens[i] == "*" or _one(tokens[i], "/") for i in states)
