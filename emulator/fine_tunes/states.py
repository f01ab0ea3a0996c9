"""Fine-tune statuses, the legal transitions, and the one place a job's status changes: with time
(``settle``), on a cancel (``cancel``), through the control plane (``force``), and when a freed training slot
goes to the head of the queue (``take_slot``).  The service stores what these answer.

A tenant's jobs share one training slot.  ``settle`` applies, in time order, every event that falls due up to
``now`` (a pending job becoming ready, the running job finishing, a cancel completing) to the tenant's active
jobs, reading only the slot's holder, the head of the queue and the jobs due, so the status at any read is
exactly what the stored facts and the clock say, whether or not anything ran in between.  It does no I/O of
its own and has no clock.  (The tests check it against a full replay of every job, ``tests/fine_tunes/replay.py``.)

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


CANCEL_SECONDS = 10.0
"""A cancel completes this long (emulated) after it was asked for."""


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


def take_slot(job: JobTimes, at: float) -> None:
    """A queued job takes the free training slot at ``at`` (never before it was queued)."""
    job.status, job.started_at = JobStatus.RUNNING, max(at, job.queued_at or at)


def apply_due(job: JobTimes, at: float, *, slot_busy: bool) -> None:
    """The event of ``job`` that falls due at ``at``: its data check ends (it runs, or queues behind the slot's
    holder), its training ends, or its cancel completes."""
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
    """Every event of one tenant due at or before ``now``, reading only the slot holder, the head of the queue and
    the jobs due; answers the jobs that changed.

    Events are taken in time order, then creation order (as the full replay in the tests takes them, and the two
    agree on every status and timestamp); the cost is the number of transitions due, not the number of jobs.
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
            apply_due(holder, release, slot_busy=True)
            changed[holder.job_id] = holder
            holder = await _take_slot(queue, release, changed)
        elif nxt is not None and ready is not None:
            index += 1
            apply_due(nxt, ready, slot_busy=holder is not None)
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
    if at is None:
        queued = head.queued_at if head.queued_at is not None else 0.0
        head.status, head.started_at = JobStatus.RUNNING, queued
    else:
        take_slot(head, at)
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
