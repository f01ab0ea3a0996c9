"""A fault rule as posted and as stored: the request path's fault store (``rules.faults``) needs them at start,
the rest of the control plane's schemas (``control.schemas``, which re-exports these) only when a control
endpoint is hit."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

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
    count: int | None = Field(None, ge=1, description="The rule expires after this many hits.")
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
        if value.startswith("/_emulator"):
            raise ValueError("faults apply to the public API only (/api/v1, /compatible-mode/v1), never /_emulator")
        return value


class FaultRule(FaultRuleSpec):
    """A stored rule: the spec plus its id and how often it matched and hit."""

    model_config = ConfigDict(extra="forbid")
    id: str
    hits: int = Field(0, description="Requests the rule answered (or delayed, or dropped).")
    matched: int = Field(0, description="Requests that matched; with probability < 1 some of them were spared.")
