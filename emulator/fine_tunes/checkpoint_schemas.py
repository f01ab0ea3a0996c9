"""Wire shapes of the checkpoint endpoints (reference 2026 §2.1, §2.2)."""

from __future__ import annotations

from pydantic import Field, RootModel

from emulator.wire import WireModel


class CheckpointObject(WireModel):
    create_time: str = Field(description="ISO-8601 without zone, Beijing time (2026-05-27T18:07:16).")
    full_name: str = Field(description="{job_id}:checkpoint-{step}")
    job_id: str
    checkpoint_id: str
    checkpoint: str = Field(description="checkpoint-{step}: the path segment of the export call.")
    status: str = Field(description="PENDING (not exported / queued), PROCESSING (exporting), SUCCEEDED.")
    expire_time: str = Field(description="15 days after create_time; an expired checkpoint cannot be exported.")
    step: int
    model_name: str | None = Field(None, description="Only once SUCCEEDED: what POST /deployments deploys.")
    model_display_name: str | None = Field(None, description="Only once SUCCEEDED.")


class CheckpointList(RootModel[list[CheckpointObject]]):
    """``output`` is a bare array, newest (highest step) first."""


class ExportAccepted(RootModel[bool]):
    """``output`` is a JSON boolean: true when the export was accepted (or had been already)."""
