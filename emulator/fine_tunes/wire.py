"""The fine-tunes wire objects built from stored rows, next to their schemas (routes and the control plane use them)."""

from __future__ import annotations

from typing import Any

from emulator.clock import fmt_job_time
from emulator.fine_tunes.schemas import JobObject
from emulator.fine_tunes.states import TERMINAL, JobStatus
from emulator.fine_tunes.store import JobRow


def job_dict(job: JobRow) -> dict[str, Any]:
    """The wire form of a job (``JobObject`` dumped without its None fields), built straight from stored, already
    validated facts: the status read's hot path skips constructing and dumping a model."""
    req = job.request
    account = req["account"]
    out: dict[str, Any] = {
        "job_id": job.job_id,
        "job_name": req.get("job_name") or job.job_id,
        "status": job.status.value,
        "model": job.model,
        "base_model": job.base_model,
        "training_file_ids": req["training_file_ids"],
        "validation_file_ids": req["validation_file_ids"],
        "hyper_parameters": req["hyper_parameters"],
        "training_type": job.training_type,
        "create_time": fmt_job_time(job.created_at),
        "user_identity": account,
        "creator": account,
        "modifier": account,
        "group": "llm",
        "workspace_id": req["workspace"],
    }
    if job.status is JobStatus.SUCCEEDED:
        out["finetuned_output"] = job.output_model
    if job.status in TERMINAL and job.ended_at is not None:
        out["end_time"] = fmt_job_time(job.ended_at)
    if job.status is JobStatus.SUCCEEDED:
        out["usage"] = int(job.plan["plan"]["usage_tokens"])
    if job.status is JobStatus.FAILED:
        for key, value in (("code", job.code), ("message", job.message)):
            if value is not None:
                out[key] = value
    return out


def job_object(job: JobRow) -> JobObject:
    """The same facts as a model (the control plane's answers), constructed without a second validation."""
    return JobObject.model_construct(**job_dict(job))
