"""Wire shapes of the async-task endpoints (reference §8), for the OpenAPI document."""

from __future__ import annotations

from pydantic import Field

from emulator.wire import WireModel


class TaskOutput(WireModel):
    task_id: str
    task_status: str = Field(description="PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED or UNKNOWN.")
    submit_time: str | None = Field(None, description="Beijing time, `YYYY-MM-DD HH:MM:SS.mmm`.")
    scheduled_time: str | None = None
    end_time: str | None = None
    url: str | None = Field(None, description="SUCCEEDED: the signed result URL (gzip JSON Lines), valid 72 h.")
    code: str | None = None
    message: str | None = None


class TaskUsage(WireModel):
    total_tokens: int


class TaskResponse(WireModel):
    request_id: str
    output: TaskOutput
    usage: TaskUsage | None = None


class TaskListItem(WireModel):
    api_key_id: str
    caller_parent_id: str
    caller_uid: str
    end_time: int | None = Field(None, description="Epoch milliseconds; absent until the task ends.")
    gmt_create: int
    model_name: str
    region: str
    request_id: str
    start_time: int
    status: str
    task_id: str
    user_api_unique_key: str


class TaskList(WireModel):
    """Flat: no ``output`` envelope (the recorded answer)."""

    total: int
    data: list[TaskListItem]
    total_page: int
    page_no: int
    request_id: str
    page_size: int
    tasks: list[TaskOutput] | None = Field(
        None,
        description="Only for dashscope 2.x's `Client` (User-Agent `dashscope-v2-…`), whose `jobs.list` reads this key "
        "instead of `data`: the same tasks, each as `GET /api/v1/tasks/{task_id}` shows it.",
    )


class CancelResponse(WireModel):
    request_id: str
