"""Wire shapes of /api/v1/fine-tunes (reference §3, §4) as the seed shows them."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from emulator.wire import WireModel


class CreateJobRequest(WireModel):
    """The create body.  Unknown top-level keys are ignored, as the real service does with extra fields."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=256)
    training_file_ids: list[str] | str | None = None
    validation_file_ids: list[str] | str | None = None
    hyper_parameters: dict[str, Any] | None = None
    training_type: str | None = None
    job_name: str | None = Field(None, max_length=256)
    finetuned_output_suffix: str | None = Field(None, max_length=64)
    finetuned_output: str | None = Field(None, max_length=256)
    model_name: str | None = Field(None, max_length=256)

    @field_validator("training_file_ids", "validation_file_ids")
    @classmethod
    def _as_list(cls, value: list[str] | str | None) -> list[str] | None:
        """The SDKs turn a single id into a list; curl users may not."""
        if isinstance(value, str):
            return [value]
        return value


class JobObject(WireModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    job_name: str
    status: str
    model: str
    base_model: str
    training_file_ids: list[str]
    validation_file_ids: list[str]
    hyper_parameters: dict[str, Any]
    training_type: str
    create_time: str
    user_identity: str
    creator: str
    modifier: str
    group: str = "llm"
    workspace_id: str
    finetuned_output: str | None = None
    end_time: str | None = None
    usage: int | None = None
    code: str | None = None
    message: str | None = None


class JobList(WireModel):
    page_no: int
    page_size: int
    total: int
    jobs: list[JobObject]


class StatusOutput(WireModel):
    status: str = "success"


class LogsOutput(WireModel):
    total: int
    logs: list[str]
