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

import heapq
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


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
    seq: int = 0

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


class QueueSource(Protocol):
    """The slice of one tenant's jobs the incremental engine reads, in the state before it runs."""

    async def holder(self) -> JobTimes | None:
        """The job holding the training slot (RUNNING or CANCELING), if any."""

    async def queued_after(self, seq: int, limit: int) -> list[JobTimes]:
        """QUEUING jobs with a larger ``seq``, in ``seq`` order, at most ``limit``."""

    async def pending_due(self, now: float) -> list[JobTimes]:
        """PENDING jobs whose data check ends at or before ``now``."""


class _Queue:
    """The tenant's queue in ``seq`` order: stored QUEUING jobs read a page at a time, plus the jobs queued now."""

    PAGE = 16

    def __init__(self, source: QueueSource) -> None:
        self.source = source
        self.stored: list[JobTimes] = []
        self.after = -1
        self.exhausted = False
        self.fresh: list[tuple[int, str, JobTimes]] = []

    def push(self, job: JobTimes) -> None:
        heapq.heappush(self.fresh, (job.seq, job.job_id, job))

    async def pop(self) -> JobTimes | None:
        """The first job still QUEUING (a source may hand out a job this pass queued and took already)."""
        while True:
            job = await self._first()
            if job is None or job.status is JobStatus.QUEUING:
                return job

    async def _first(self) -> JobTimes | None:
        if not self.stored and not self.exhausted:
            self.stored = await self.source.queued_after(self.after, self.PAGE)
            self.exhausted = len(self.stored) < self.PAGE
            if self.stored:
                self.after = self.stored[-1].seq
        first = self.stored[0] if self.stored else None
        if self.fresh and (first is None or self.fresh[0][0] < first.seq):
            return heapq.heappop(self.fresh)[2]
        return self.stored.pop(0) if first is not None else None


async def settle(source: QueueSource, now: float, policy: Policy) -> list[JobTimes]:
    """``advance``'s outcome for one tenant, reading only the slot holder, the head of the queue and the jobs due.

    Events are taken in the same order as ``advance`` takes them (time, then creation order), so the two agree
    on every status and timestamp; the cost is the number of transitions due, not the number of jobs.
    """
    changed: dict[str, JobTimes] = {}
    queue = _Queue(source)
    holder = await source.holder()
    if holder is None:
        holder = await _take_slot(queue, None, changed)
    pending = sorted(await source.pending_due(now), key=lambda j: (j.ready_at(policy.pending_seconds), j.seq))
    index = 0
    while True:
        release = holder.slot_release_at(policy.cancel_seconds) if holder is not None else None
        nxt = pending[index] if index < len(pending) else None
        ready = nxt.ready_at(policy.pending_seconds) if nxt is not None else None
        if release is not None and release <= now and (ready is None or (release, holder.seq) < (ready, nxt.seq)):  # type: ignore[union-attr]
            assert holder is not None
            _apply(holder, release, slot_busy=True)
            changed[holder.job_id] = holder
            holder = await _take_slot(queue, release, changed)
        elif nxt is not None and ready is not None:
            index += 1
            _apply(nxt, ready, slot_busy=holder is not None)
            changed[nxt.job_id] = nxt
            if nxt.status is JobStatus.RUNNING:
                holder = nxt
            else:
                queue.push(nxt)
        else:
            return list(changed.values())


async def _take_slot(queue: _Queue, at: float | None, changed: dict[str, JobTimes]) -> JobTimes | None:
    """The head of the queue takes the free slot at ``at`` (``None``: when it was queued, a repair)."""
    head = await queue.pop()
    if head is None:
        return None
    queued = head.queued_at if head.queued_at is not None else (at or 0.0)
    head.status, head.started_at = JobStatus.RUNNING, queued if at is None else max(at, queued)
    changed[head.job_id] = head
    return head


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
