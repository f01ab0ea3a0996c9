"""Wire shapes of /api/v1/fine-tunes (reference §3, §4) as the seed shows them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from emulator.wire import WireModel

MAX_FILE_IDS = 100
"""File ids one list (training or validation) may name, after duplicates are removed."""
MAX_HYPER_PARAMETERS_BYTES = 16 * 1024
"""``hyper_parameters`` as compact JSON: the seed's tables have 20-odd scalar keys, a few hundred bytes."""


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
        """The SDKs turn a single id into a list; curl users may not.  Duplicates go before any work is done."""
        if value is None:
            return None
        ids = list(dict.fromkeys([value] if isinstance(value, str) else value))
        if len(ids) > MAX_FILE_IDS:
            raise ValueError(f"at most {MAX_FILE_IDS} distinct file ids (got {len(ids)})")
        return ids

    @field_validator("hyper_parameters")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            size = len(json.dumps(value, separators=(",", ":")))
            if size > MAX_HYPER_PARAMETERS_BYTES:
                raise ValueError(f"at most {MAX_HYPER_PARAMETERS_BYTES} bytes as JSON (got {size})")
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
