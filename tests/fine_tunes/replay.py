"""The full replay of a tenant's jobs: every event, in time order, over every active job.

It was the engine once; the service now runs ``states.settle``, which reads only what it needs.  The tests keep
this simpler form as the oracle ``settle`` must agree with (``tests/unit/test_states.py``,
``tests/fine_tunes/test_engine.py``).
"""

from __future__ import annotations

from emulator.fine_tunes.states import HOLDS_SLOT, JobStatus, JobTimes, Policy, apply_due, take_slot


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
        apply_due(job, at, slot_busy=any(j.status in HOLDS_SLOT for j in jobs))
        changed.add(job.job_id)
        changed |= fill_slot(jobs, at, policy)


def fill_slot(jobs: list[JobTimes], at: float, policy: Policy) -> set[str]:
    """If nobody holds the slot, the first queued job takes it at ``at``."""
    if any(job.status in HOLDS_SLOT for job in jobs):
        return set()
    for job in jobs:
        if job.status is JobStatus.QUEUING:
            take_slot(job, at)
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
