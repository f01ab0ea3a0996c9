"""Checkpoints of a fine-tune job, derived (never stored) from its training plan, its row and "now".

The plan that writes the log (``training.py``) decides when training passes each step; a checkpoint is saved at
every validation boundary (``eval_every``, the effective ``eval_steps``: the same steps the log prints
``Validation`` lines for) and at the last step, and only the last ``SAVE_TOTAL_LIMIT`` are kept (reference 2026
§2.1, open question 6).  A checkpoint exists once training has passed its step, so a job that never ran has
none, and a canceled or failed job keeps those it made.

Status: the last checkpoint of a SUCCEEDED job is SUCCEEDED and is the job's ``finetuned_output``; the others
are PENDING until exported, then follow their export (``ExportView``): PENDING (queued) → PROCESSING →
SUCCEEDED, on the emulated clock.  Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.clock import beijing
from emulator.fine_tunes.states import JobStatus
from emulator.fine_tunes.store import JobRow

SAVE_TOTAL_LIMIT = 20
"""Checkpoints kept per job (the docs' ``save_total_limit`` default)."""
EXPIRE_SECONDS = 15 * 86400.0
"""A checkpoint can be exported for 15 days after it was saved (the docs' example)."""
EXPORT_QUEUE_SECONDS = 30.0
EXPORT_PROCESS_SECONDS = 150.0
_EPS = 1e-6


@dataclass(frozen=True)
class ExportView:
    """What is stored about one export: its display name, the model it makes, and when it was asked for."""

    display_name: str
    model_name: str
    requested_at: float


@dataclass(frozen=True)
class Checkpoint:
    job_id: str
    step: int
    created_at: float
    status: str
    model_name: str | None = None
    display_name: str | None = None
    final: bool = False

    @property
    def name(self) -> str:
        return checkpoint_name(self.step)

    @property
    def expire_at(self) -> float:
        return self.created_at + EXPIRE_SECONDS

    def expired(self, now: float) -> bool:
        return now >= self.expire_at

    def wire(self) -> dict[str, Any]:
        """The 2026 checkpoint object: ``model_name``/``model_display_name`` only once SUCCEEDED."""
        full = f"{self.job_id}:{self.name}"
        out: dict[str, Any] = {
            "create_time": fmt_checkpoint_time(self.created_at),
            "full_name": full,
            "job_id": self.job_id,
            "checkpoint_id": full,
            "checkpoint": self.name,
            "status": self.status,
            "expire_time": fmt_checkpoint_time(self.expire_at),
            "step": self.step,
        }
        if self.status == "SUCCEEDED":
            out["model_name"] = self.model_name
            out["model_display_name"] = self.display_name or self.job_id
        return out


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step}"


def fmt_checkpoint_time(ts: float) -> str:
    """``2026-05-27T18:07:16``: ISO, Beijing wall time, no zone, no fraction (the checkpoint docs)."""
    return beijing(ts).strftime("%Y-%m-%dT%H:%M:%S")


def exported_model_name(job: JobRow, step: int) -> str:
    """The deployable id an export makes: ``{finetuned_output}-c{step}`` (open question 7)."""
    return f"{job.output_model}-c{step}"


def saved_steps(plan: dict[str, Any]) -> list[int]:
    """Every step a checkpoint is saved at, in order, before the keep-last limit."""
    total = int(plan.get("total_steps") or 0)
    every = max(1, int(plan.get("eval_every") or 1))
    if total <= 0 or plan.get("failure"):
        return []
    steps = list(range(every, total, every))
    return [*steps, total]


def derive(job: JobRow, now: float, exports: dict[int, ExportView]) -> list[Checkpoint]:
    """The job's checkpoints as of ``now``, newest (highest step) first."""
    if job.started_at is None or job.plan.get("unsupported"):
        return []
    plan = job.plan["plan"]
    startup, per_step = float(plan["startup_seconds"]), float(plan["step_seconds"])
    cutoff = now if job.ended_at is None else min(now, job.ended_at)
    steps = saved_steps(plan)
    total = steps[-1] if steps else 0
    made = [s for s in steps if job.started_at + startup + s * per_step <= cutoff + _EPS]
    kept = made[-SAVE_TOTAL_LIMIT:]
    out = []
    for step in reversed(kept):
        created = job.started_at + startup + step * per_step
        final = step == total and job.status is JobStatus.SUCCEEDED
        out.append(_checkpoint(job, step, created, now, final, exports.get(step)))
    return out


def _checkpoint(
    job: JobRow, step: int, created: float, now: float, final: bool, export: ExportView | None
) -> Checkpoint:
    if final:
        return Checkpoint(job.job_id, step, created, "SUCCEEDED", job.output_model, None, final=True)
    if export is None:
        return Checkpoint(job.job_id, step, created, "PENDING")
    status = export_status(export, now)
    return Checkpoint(job.job_id, step, created, status, export.model_name, export.display_name)


def export_status(export: ExportView, now: float) -> str:
    elapsed = now - export.requested_at
    if elapsed < EXPORT_QUEUE_SECONDS:
        return "PENDING"
    if elapsed < EXPORT_QUEUE_SECONDS + EXPORT_PROCESS_SECONDS:
        return "PROCESSING"
    return "SUCCEEDED"
