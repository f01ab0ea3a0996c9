"""Request bodies of the control plane (/_emulator/*)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400, description="Emulated seconds to move forward.")


class ClockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_scale: float = Field(ge=0, le=1_000_000, description="Emulated seconds per wall second; 0 freezes.")
