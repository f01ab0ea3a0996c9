"""OpenAI's batch shapes as the compatible mode answers them (reference §9.2-§9.6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from emulator.wire import WireModel


class BatchCreateRequest(WireModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    input_file_id: str
    endpoint: Literal["/v1/chat/completions", "/v1/embeddings", "/v1/chat/ds-test"]
    completion_window: str = Field(description="`24h` to `336h`, or `1d` to `14d`.")
    metadata: dict[str, str] | None = Field(
        None,
        description="`ds_name` ≤ 100, `ds_description` ≤ 200 characters; `ds_batch_finish_callback` an http(s) URL "
        "POSTed the batch object when the batch ends (GET /_emulator/callbacks lists the attempts).",
    )


class RequestCounts(WireModel):
    total: int
    completed: int
    failed: int


class BatchError(WireModel):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(WireModel):
    object: Literal["list"] = "list"
    data: list[BatchError]


class Batch(WireModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str
    status: str = Field(
        description="validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled."
    )
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None = Field(description="null in every status, as in every recording.")
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: RequestCounts
    metadata: dict[str, Any] | None


class BatchList(WireModel):
    object: Literal["list"] = "list"
    data: list[Batch] | None
    first_id: str | None
    last_id: str | None
    has_more: bool


class CallbackAttempt(WireModel):
    """One finish callback as ``GET /_emulator/callbacks`` lists it (``batches.callbacks``)."""

    seq: int = Field(description="Position since start (never reused).")
    batch_id: str
    url: str = Field(description="As given in metadata.ds_batch_finish_callback, a password in it masked.")
    outcome: Literal["delivered", "refused", "failed", "dropped"] = Field(
        description="delivered: a 2xx answer; refused: the host policy (--callback-host) forbade it, nothing was "
        "sent; failed: connection error, timeout or a non-2xx answer; dropped: the delivery queue was full."
    )
    status_code: int | None = Field(description="The receiver's HTTP status, when it answered.")
    error: str | None = Field(description="Why it was not delivered.")
    body: Any = Field(
        description="The JSON body sent (the batch object as a read answered it then); over 16 KiB, its first "
        "16 KiB as text."
    )
    body_size: int = Field(description="Bytes of the body sent.")
    time: float = Field(description="Emulated Unix time the callback fell due (the batch was finalized).")
    time_iso: str
    wall_time: float = Field(description="Wall-clock Unix time the attempt ended.")
    duration_ms: float = Field(description="From the start of the POST to its answer's head (0 when not sent).")


class CallbackPage(WireModel):
    capacity: int = Field(description="Ring size; older attempts are forgotten.")
    total: int = Field(description="Attempts kept that match the filter (before limit).")
    pending: int = Field(description="Callbacks queued or being delivered.")
    callbacks: list[CallbackAttempt] = Field(description="Newest first.")


class CallbacksCleared(WireModel):
    removed: int
