"""A batch as the API shows it (OpenAI's batch object, reference §9.2-§9.3): its answers, and the body of its
finish callback."""

from __future__ import annotations

from typing import Any

from emulator.batches.states import BatchStatus, lines_done
from emulator.batches.store import BatchRow


def batch_dict(row: BatchRow, status: BatchStatus, now: float) -> dict[str, Any]:
    f = row.facts()
    created = int(row.created_at)
    started = status not in (BatchStatus.VALIDATING, BatchStatus.FAILED) and row.valid
    counts = {"total": 0, "completed": 0, "failed": 0}
    if started:
        counts["total"] = row.total
        if row.finalized:
            counts.update(completed=row.ok, failed=row.failed)
        else:
            counts["completed"] = lines_done(f, row.total, min(now, row.cancel_at or now))
    finished = int(f.done_at)
    cancel = int(row.cancel_at) if row.cancel_at is not None else None
    return {
        "id": row.batch_id,
        "object": "batch",
        "endpoint": row.endpoint,
        "errors": {"object": "list", "data": row.errors} if status is BatchStatus.FAILED else None,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": status.value,
        "output_file_id": row.output_file_id if row.finalized else None,
        "error_file_id": row.error_file_id if row.finalized else None,
        "created_at": created,
        "in_progress_at": created if started else None,
        "expires_at": None,  # null in every recording, in every status (docs/decisions.md)
        "finalizing_at": finished if status in (BatchStatus.FINALIZING, BatchStatus.COMPLETED) else None,
        "completed_at": finished if status is BatchStatus.COMPLETED else None,
        "failed_at": created if status is BatchStatus.FAILED else None,
        "expired_at": int(f.deadline) if status is BatchStatus.EXPIRED else None,
        "cancelling_at": cancel if status is BatchStatus.CANCELLED else None,
        "cancelled_at": cancel if status is BatchStatus.CANCELLED else None,
        "request_counts": counts,
        "metadata": row.metadata,
    }
