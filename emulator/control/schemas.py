"""Request bodies of the control plane (/_emulator/*)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from emulator.fine_tunes.states import JobStatus
from emulator.journal.schemas import JournalEntry as JournalEntry
from emulator.rules.fault_schemas import FaultRule as FaultRule
from emulator.rules.fault_schemas import FaultRuleSpec as FaultRuleSpec
from emulator.rules.response_schemas import ResponseRule as ResponseRule
from emulator.rules.response_schemas import ResponseRuleSpec as ResponseRuleSpec
from emulator.wire import WireModel


class ClockAdvance(WireModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400, description="Emulated seconds to move forward.")


class ClockUpdate(WireModel):
    model_config = ConfigDict(extra="forbid")
    time_scale: float = Field(ge=0, le=1_000_000, description="Emulated seconds per wall second; 0 freezes.")


class ClockView(WireModel):
    now: float = Field(description="Emulated Unix time.")
    now_beijing: str
    now_iso: str
    time_scale: float


class Health(WireModel):
    status: str
    version: str
    uptime_seconds: float
    emulated_time: float
    time_scale: float
    seed: int | None
    internal_errors: int


class ResetRequest(WireModel):
    """Empty: wipe everything.  ``api_key`` (+ ``workspace``), or ``tenant`` (an id the dashboard lists): wipe
    that tenant only."""

    api_key: str | None = None
    workspace: str | None = None
    tenant: str | None = None


class ResetResult(WireModel):
    status: str
    tenant: str | None
    removed: dict[str, int]


# ---------------------------------------------------------------- forced transitions


class FineTuneStatusUpdate(WireModel):
    """``POST /_emulator/fine-tunes/{job_id}/status``: move a job along a legal transition, logged like a real event."""

    model_config = ConfigDict(extra="forbid")
    status: JobStatus = Field(description="The status to move to; only transitions of the state table are allowed.")
    message: str | None = Field(None, max_length=2000, description="Shown in the job log (and as the FAILED message).")


# ---------------------------------------------------------------- faults


class FaultRuleList(WireModel):
    faults: list[FaultRule]


class FaultsCleared(WireModel):
    removed: int


# ---------------------------------------------------------------- request journal


class JournalPage(WireModel):
    capacity: int = Field(description="Ring size (--journal-size); older requests are forgotten.")
    total: int = Field(description="Entries matching the filters (before limit).")
    requests: list[JournalEntry] = Field(description="Newest first.")


class JournalCleared(WireModel):
    removed: int


# ---------------------------------------------------------------- snapshot / restore


class SnapshotRequest(WireModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Where to write the archive (.tar.gz, or .tar for no compression).  Relative "
        "paths are under the data dir's snapshots/; default snapshots/<time>.tar.gz.  Must lie inside the data "
        "dir or a --control-path.",
    )


class RestoreRequest(WireModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        min_length=1,
        max_length=1024,
        description="A snapshot archive; relative to snapshots/ unless absolute; inside the data dir or a "
        "--control-path.",
    )


class SnapshotInfo(WireModel):
    path: str = Field(description="Absolute path of the archive.")
    size: int = Field(description="Bytes.")
    emulated_time: float = Field(description="The emulated clock when the snapshot was taken (restore sets it back).")
    blobs: int = Field(description="Uploaded file contents in the archive.")
    schema_version: int


# ---------------------------------------------------------------- seed


class SeedRequest(WireModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        min_length=1,
        max_length=1024,
        description="A world file (fixtures/world.json); relative to the server's working directory.  It and "
        "the files it names must lie inside the data dir or a --control-path.",
    )
    reset: bool = Field(False, description="Wipe everything first.")


class SeedResult(WireModel):
    tenants: list[dict[str, Any]] = Field(
        description="Per tenant: api_key, tenant id, files, fine_tunes (job_id, status), deployments (status)."
    )
    emulated_time: float


# ---------------------------------------------------------------- response rules (scripted model answers)


class ResponseRuleList(WireModel):
    responses: list[ResponseRule]


class ResponsesCleared(WireModel):
    removed: int
