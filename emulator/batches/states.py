"""Batch statuses worked out from stored facts and "now" (reference §9.3); transitions are this one function."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BatchStatus(enum.StrEnum):
    VALIDATING = "validating"
    """The input is being checked."""
    FAILED = "failed"
    """The input failed the checks (``errors`` says why); no line ran."""
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    """Every line ran; the output files are being cut."""
    COMPLETED = "completed"
    EXPIRED = "expired"
    """Its lines did not fit the completion window (``--batch-line-seconds`` each): at the window's end the lines
    run so far are its output, the rest its error file (``batch_expired``)."""
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


FINAL = frozenset({BatchStatus.FAILED, BatchStatus.COMPLETED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})
CANCELLABLE = frozenset({BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS})
CANCELLING_SECONDS = 2.0
FINALIZING_SECONDS = 2.0


@dataclass(frozen=True)
class BatchFacts:
    created_at: float
    validate_seconds: float
    run_seconds: float
    validated: bool
    """The checks are over (their verdict is ``valid``)."""
    valid: bool
    produced: bool
    """Every line has been answered into the private results file."""
    cancel_at: float | None
    finalized: bool
    """The output and error files exist (the batch has read final once)."""
    window_seconds: float = float("inf")
    """The completion window."""

    @property
    def started_at(self) -> float:
        return self.created_at + self.validate_seconds

    @property
    def done_at(self) -> float:
        return self.started_at + self.run_seconds

    @property
    def deadline(self) -> float:
        """The end of the completion window."""
        return self.created_at + self.window_seconds

    @property
    def expires(self) -> bool:
        """The checked lines do not fit the window: the batch stops, expired, at its deadline."""
        return self.validated and self.valid and self.done_at > self.deadline


def status_at(f: BatchFacts, now: float) -> BatchStatus:
    if f.cancel_at is not None:
        if now < f.cancel_at + CANCELLING_SECONDS or not f.finalized:
            return BatchStatus.CANCELLING
        return BatchStatus.CANCELLED
    if now < f.started_at or not f.validated:
        return BatchStatus.VALIDATING
    if not f.valid:
        return BatchStatus.FAILED
    if f.expires:
        return BatchStatus.EXPIRED if now >= f.deadline else BatchStatus.IN_PROGRESS
    if now < f.done_at:
        return BatchStatus.IN_PROGRESS
    if now < f.done_at + FINALIZING_SECONDS or not f.produced or not f.finalized:
        return BatchStatus.FINALIZING
    return BatchStatus.COMPLETED


def finalize_at(f: BatchFacts) -> float | None:
    """When the batch is due to be finalized: when it first reads final, its output files (if any) cut, its counts
    and its finish callback due.  None when that waits on the worker (the lines not yet checked or answered), or
    once it is done."""
    if f.finalized or not f.validated:
        return None
    if f.cancel_at is not None:
        return f.cancel_at + CANCELLING_SECONDS if f.produced or not f.valid else None
    if not f.valid:
        return f.started_at  # failed: it reads failed, and stays so, from the end of the checks on
    if not f.produced:
        return None
    return f.deadline if f.expires else f.done_at + FINALIZING_SECONDS


def due_to_finalize(f: BatchFacts, now: float) -> bool:
    """The batch should be finalized now: past its work (or its cancel, or its checks when they refused it)."""
    at = finalize_at(f)
    return at is not None and now >= at


def lines_done(f: BatchFacts, total: int, at: float) -> int:
    """How many lines had run by ``at`` (they run evenly over the batch's working time, and stop at the deadline
    of a batch that expires)."""
    if f.expires:
        at = min(at, f.deadline)
    if at <= f.started_at or not f.valid:
        return 0
    if at >= f.done_at or f.run_seconds <= 0:
        return total
    return int(total * (at - f.started_at) / f.run_seconds)
