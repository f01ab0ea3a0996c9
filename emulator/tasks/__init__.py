"""Async tasks: ``GET /api/v1/tasks`` (and ``/tasks/``), ``GET /api/v1/tasks/{id}``, ``POST /api/v1/tasks/{id}/cancel``,
and the signed result downloads under ``/_oss/dashscope-result/``.  The only task kind today is batch text
embedding (``X-DashScope-Async: enable`` on the text-embedding endpoint).

Deviations: the input URL must be this emulator's own file (``.../files/{id}/content``, native or compatible) or a
``data:`` URI (nothing is fetched: anything else fails the task with ``InvalidURL``); tasks are scoped to the
tenant (key and workspace) rather than the whole account; the result format is the reference's [GUESS] (§6.8);
result files are not part of snapshots.
"""
