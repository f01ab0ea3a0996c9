"""Fine-tune statuses, the legal transitions, and ``advance``: the one place a job changes status by itself.

A tenant's jobs share one training slot.  ``advance`` replays, in time order, every event that falls
due up to ``now`` (a pending job becoming ready, the running job finishing, a cancel completing) over the
tenant's active jobs, so the status at any read is exactly what the stored facts and the clock say,
whether or not anything ran in between.  It is pure: no I/O, no clock of its own.

    PENDING ──ready──▶ RUNNING ──done──▶ SUCCEEDED | FAILED
       │   └─slot busy─▶ QUEUING ──slot free (first come, first served)──▶ RUNNING
       │                   │                         │
       └──cancel──▶ CANCELED ◀──cancel──┘           cancel ▶ CANCELING ──▶ CANCELED
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    """Accepted; waiting for its data check before it can take the training slot."""
    QUEUING = "QUEUING"
    """Ready, but another job of the same tenant holds the slot (one training job at a time)."""
    RUNNING = "RUNNING"
    """Training: holds the tenant's slot."""
    CANCELING = "CANCELING"
    """Cancel requested while running; still holds the slot until the trainer stops."""
    SUCCEEDED = "SUCCEEDED"
    """Finished; ``finetuned_output`` names the new model."""
    FAILED = "FAILED"
    """Finished without a model: bad data, an unsupported model × method, or forced."""
    CANCELED = "CANCELED"
    """Stopped on request."""


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE = frozenset({JobStatus.PENDING, JobStatus.QUEUING, JobStatus.RUNNING, JobStatus.CANCELING})
HOLDS_SLOT = frozenset({JobStatus.RUNNING, JobStatus.CANCELING})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUING, JobStatus.RUNNING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.QUEUING: frozenset({JobStatus.RUNNING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELING}),
    JobStatus.CANCELING: frozenset({JobStatus.CANCELED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"a {current} job cannot become {target}")
        self.current = current
        self.target = target


def check_transition(current: JobStatus, target: JobStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


@dataclass
class JobTimes:
    """The stored facts a job's status derives from (all times on the emulated clock)."""

    job_id: str
    status: JobStatus
    created_at: float
    duration: float
    fails: bool
    queued_at: float | None = None
    started_at: float | None = None
    cancel_at: float | None = None
    ended_at: float | None = None

    def ready_at(self, pending_seconds: float) -> float:
        return self.created_at + pending_seconds

    def slot_release_at(self, cancel_seconds: float) -> float | None:
        if self.status is JobStatus.RUNNING and self.started_at is not None:
            return self.started_at + self.duration
        if self.status is JobStatus.CANCELING and self.cancel_at is not None:
            return self.cancel_at + cancel_seconds
        return None


@dataclass(frozen=True)
class Policy:
    pending_seconds: float
    cancel_seconds: float


def advance(jobs: list[JobTimes], now: float, policy: Policy) -> set[str]:
    """Apply every event due at or before ``now``, earliest first; answer the ids of the jobs that changed.

    ``jobs`` are one tenant's active jobs in creation order; they are updated in place.
    """
    changed: set[str] = set()
    changed |= fill_slot(jobs, _slot_free_since(jobs), policy)
    while True:
        event = _next_event(jobs, policy)
        if event is None or event[0] > now:
            return changed
        at, job = event
        _apply(job, at, slot_busy=any(j.status in HOLDS_SLOT for j in jobs))
        changed.add(job.job_id)
        changed |= fill_slot(jobs, at, policy)


def fill_slot(jobs: list[JobTimes], at: float, policy: Policy) -> set[str]:
    """If nobody holds the slot, the first queued job takes it at ``at``."""
    if any(job.status in HOLDS_SLOT for job in jobs):
        return set()
    for job in jobs:
        if job.status is JobStatus.QUEUING:
            job.status, job.started_at = JobStatus.RUNNING, max(at, job.queued_at or at)
            return {job.job_id}
    return set()


def _slot_free_since(jobs: list[JobTimes]) -> float:
    queued = [job.queued_at for job in jobs if job.status is JobStatus.QUEUING and job.queued_at is not None]
    return min(queued) if queued else 0.0


def _next_event(jobs: list[JobTimes], policy: Policy) -> tuple[float, JobTimes] | None:
    best: tuple[float, JobTimes] | None = None
    for job in jobs:
        if job.status is JobStatus.PENDING:
            at: float | None = job.ready_at(policy.pending_seconds)
        else:
            at = job.slot_release_at(policy.cancel_seconds)
        if at is not None and (best is None or at < best[0]):
            best = (at, job)
    return best


def _apply(job: JobTimes, at: float, *, slot_busy: bool) -> None:
    if job.status is JobStatus.PENDING:
        if slot_busy:
            job.status, job.queued_at = JobStatus.QUEUING, at
        else:
            job.status, job.queued_at, job.started_at = JobStatus.RUNNING, at, at
    elif job.status is JobStatus.RUNNING:
        job.status = JobStatus.FAILED if job.fails else JobStatus.SUCCEEDED
        job.ended_at = at
    elif job.status is JobStatus.CANCELING:
        job.status, job.ended_at = JobStatus.CANCELED, at


def cancel(job: JobTimes, now: float) -> None:
    """Waiting jobs are canceled at once; a running one passes through CANCELING (reference §12.6)."""
    if job.status in (JobStatus.PENDING, JobStatus.QUEUING):
        check_transition(job.status, JobStatus.CANCELED)
        job.status, job.cancel_at, job.ended_at = JobStatus.CANCELED, now, now
    else:
        check_transition(job.status, JobStatus.CANCELING)
        job.status, job.cancel_at = JobStatus.CANCELING, now


def force(job: JobTimes, target: JobStatus, now: float) -> None:
    """A transition ordered through the control plane; only along the table."""
    check_transition(job.status, target)
    if target is JobStatus.QUEUING:
        job.queued_at = now
    elif target is JobStatus.RUNNING:
        job.queued_at = job.queued_at or now
        job.started_at = now
    elif target is JobStatus.CANCELING:
        job.cancel_at = now
    else:
        job.ended_at = now
        if target is JobStatus.CANCELED:
            job.cancel_at = job.cancel_at or now
    job.status = target
