"""Request bodies of the control plane (/_emulator/*)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400, description="Emulated seconds to move forward.")


class ClockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_scale: float = Field(ge=0, le=1_000_000, description="Emulated seconds per wall second; 0 freezes.")


class ClockView(BaseModel):
    now: float = Field(description="Emulated Unix time.")
    now_beijing: str
    now_iso: str
    time_scale: float


class Health(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    emulated_time: float
    time_scale: float
    seed: int | None
    internal_errors: int


class ResetRequest(BaseModel):
    """Empty: wipe everything.  ``api_key`` (+ ``workspace``): wipe that tenant only."""

    api_key: str | None = None
    workspace: str | None = None


class ResetResult(BaseModel):
    status: str
    tenant: str | None
    removed: dict[str, int]
