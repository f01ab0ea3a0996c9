"""Async task statuses (reference §8) worked out from stored facts and "now": no timer has to fire.

PENDING --(dwell)--> RUNNING --(work, result written)--> SUCCEEDED | FAILED
PENDING --(cancel)--> CANCELED
any final status --(retention)--> UNKNOWN (as the service answers a task it no longer has)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Submitted; cancellable."""
    RUNNING = "RUNNING"
    """Being worked on (or its result still being written)."""
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    """Cancelled while PENDING."""
    UNKNOWN = "UNKNOWN"
    """Never existed, another tenant's, or past retention."""


FINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED})
CANCELLABLE = frozenset({TaskStatus.PENDING})
PENDING_SECONDS = 2.0
"""Emulated seconds a task waits before it runs (reference §10 Q10): long enough for a test to cancel it."""
RETENTION_SECONDS = 24 * 3600.0
RESULT_URL_SECONDS = 72 * 3600.0
"""A result URL's signature is valid this long after the task ended (the recorded one: 72 h)."""


@dataclass(frozen=True)
class TaskTimes:
    created_at: float
    run_seconds: float
    canceled_at: float | None
    outcome: str | None
    """SUCCEEDED or FAILED once the result is written; None while it is being made."""

    @property
    def started_at(self) -> float:
        return self.created_at + PENDING_SECONDS

    @property
    def due_at(self) -> float:
        return self.started_at + self.run_seconds


def status_at(t: TaskTimes, now: float) -> TaskStatus:
    if t.canceled_at is not None:
        return TaskStatus.UNKNOWN if now >= t.canceled_at + RETENTION_SECONDS else TaskStatus.CANCELED
    if now < t.started_at:
        return TaskStatus.PENDING
    if now < t.due_at or t.outcome is None:
        return TaskStatus.RUNNING
    if now >= t.due_at + RETENTION_SECONDS:
        return TaskStatus.UNKNOWN
    return TaskStatus(t.outcome)


def ended_at(t: TaskTimes, now: float) -> float | None:
    status = status_at(t, now)
    if status is TaskStatus.CANCELED:
        return t.canceled_at
    if status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
        return t.due_at
    return None
