"""The route table of ``emulator.tasks``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, page_params, path_param

HANDLERS = "emulator.tasks.handlers"
SCHEMAS = "emulator.tasks.schemas"

_LIST_PARAMS = (
    Param("task_id", description="Only this task."),
    Param(
        "start_time", description="`yyyyMMddHHmmss`, Beijing time; the window is at most 24 h (default: the last day)."
    ),
    Param("end_time", description="`yyyyMMddHHmmss`, Beijing time."),
    Param("model_name"),
    Param("status", schema={"type": "string", "enum": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"]}),
    *page_params(),
)


operations = [
    Operation(
        "GET",
        "/api/v1/tasks",
        "List async tasks",
        "tasks",
        response=f"{SCHEMAS}:TaskList",
        envelope="raw",
        params=_LIST_PARAMS,
        endpoint=lazy.handler(f"{HANDLERS}:list_tasks"),
    ),
    Operation(
        "GET",
        "/api/v1/tasks/",
        "List async tasks (trailing slash, as some SDKs send it)",
        "tasks",
        response=f"{SCHEMAS}:TaskList",
        envelope="raw",
        params=_LIST_PARAMS,
        endpoint=lazy.handler(f"{HANDLERS}:list_tasks"),
        name="list_tasks_slash",
    ),
    Operation(
        "GET",
        "/api/v1/tasks/{task_id}",
        "Get an async task",
        "tasks",
        response=f"{SCHEMAS}:TaskResponse",
        envelope="raw",
        params=(path_param("task_id"),),
        description="An unknown id answers 200 with `task_status: UNKNOWN`.",
        endpoint=lazy.handler(f"{HANDLERS}:get_task"),
    ),
    Operation(
        "POST",
        "/api/v1/tasks/{task_id}/cancel",
        "Cancel a PENDING task",
        "tasks",
        response=f"{SCHEMAS}:CancelResponse",
        envelope="raw",
        params=(path_param("task_id"),),
        description="Any other status (or an unknown id): 400 `UnsupportedOperation`.",
        endpoint=lazy.handler(f"{HANDLERS}:cancel_task"),
    ),
    Operation(
        "GET",
        "/_oss/dashscope-result/{name}",
        "Download a task's result (the signed URL of its output)",
        "tasks",
        envelope="raw",
        auth=False,
        oss=True,
        params=(path_param("name"), Param("Signature", required=True), Param("Expires")),
        media_type="application/gzip",
        endpoint=lazy.handler(f"{HANDLERS}:result"),
    ),
]
