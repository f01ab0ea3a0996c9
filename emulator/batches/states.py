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


def due_to_finalize(f: BatchFacts, now: float) -> bool:
    """The output files should be cut now: the batch is past its work (or its cancel) and has its results."""
    if f.finalized or not f.validated:
        return False
    if f.cancel_at is not None:
        return now >= f.cancel_at + CANCELLING_SECONDS and (f.produced or not f.valid)
    if f.expires:
        return f.produced and now >= f.deadline
    return f.valid and f.produced and now >= f.done_at + FINALIZING_SECONDS


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
