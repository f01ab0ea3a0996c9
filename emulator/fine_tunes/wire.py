"""The fine-tunes wire objects built from stored rows, next to their schemas (routes and the control plane use them)."""

from __future__ import annotations

from typing import Any

from emulator.clock import fmt_job_time
from emulator.fine_tunes.schemas import JobObject
from emulator.fine_tunes.states import TERMINAL, JobStatus
from emulator.fine_tunes.store import JobRow


def job_object(job: JobRow) -> JobObject:
    """Built from stored, already validated facts, so it is constructed without a second validation."""
    req = job.request
    fields: dict[str, Any] = dict(
        job_id=job.job_id,
        job_name=req.get("job_name") or job.job_id,
        status=job.status.value,
        model=job.model,
        base_model=job.base_model,
        training_file_ids=req["training_file_ids"],
        validation_file_ids=req["validation_file_ids"],
        hyper_parameters=req["hyper_parameters"],
        training_type=job.training_type,
        create_time=fmt_job_time(job.created_at),
        user_identity=req["account"],
        creator=req["account"],
        modifier=req["account"],
        group="llm",
        workspace_id=req["workspace"],
    )
    if job.status in TERMINAL and job.ended_at is not None:
        fields["end_time"] = fmt_job_time(job.ended_at)
    if job.status is JobStatus.SUCCEEDED:
        fields["finetuned_output"] = job.output_model
        fields["usage"] = int(job.plan["plan"]["usage_tokens"])
    if job.status is JobStatus.FAILED:
        fields["code"], fields["message"] = job.code, job.message
    return JobObject.model_construct(**fields)
