"""Async tasks: batch text embedding submitted with ``X-DashScope-Async: enable``, read, listed and cancelled.

A task's input (``input.url``: a file of this emulator, native or compatible ``.../files/{id}/content``, or a
``data:`` URI; nothing is fetched from the internet) is copied aside at submission, and its result is written in
a worker thread right away, line by line (bounded memory), as gzip JSON Lines.  The status is derived from the
stored facts and the emulated clock (``states.status_at``): the result being ready is one of those facts, so a
task reads RUNNING until both its time has come and its file is written.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from emulator import worklock
from emulator.changes import Signal
from emulator.clock import BEIJING, Clock, beijing
from emulator.db import Database, Tx
from emulator.embeddings.specs import ASYNC_MAX_ACTIVE, ASYNC_MAX_LINES, ASYNC_MODELS
from emulator.errors import EmptyInput, FileNotFound, InvalidParameter, Throttling, UnsupportedOperation
from emulator.files.store import FileRecord
from emulator.ids import Ids
from emulator.synth import vectors
from emulator.synth.tokens import count_tokens
from emulator.tasks import store
from emulator.tasks.states import RESULT_URL_SECONDS, TaskStatus, ended_at, status_at
from emulator.tasks.store import TaskRow
from emulator.tenants import Tenant

log = logging.getLogger("emulator")

CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."
INVALID_URL = "Invalid URL provided in your request."
_FILE_PATH = re.compile(r"^/(?:api/v1|compatible-mode/v1)/files/([^/]+)/content$")
MAX_INPUT_BYTES = 200 * 1024 * 1024
"""A batch input past this fails the task (100,000 lines of 2,048 tokens stay far below it)."""


def fmt_task_time(ts: float) -> str:
    """``2024-11-25 13:55:46.536``: Beijing time with milliseconds (reference §8.1)."""
    return beijing(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def parse_task_time(text: str, name: str) -> float:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise InvalidParameter(f"{name} must be yyyyMMddHHmmss (got {text!r}).", param=name) from None


class TasksService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: Ids,
        changes: Signal,
        data_dir: Path,
        *,
        find_file: Callable[[Tenant, str], Awaitable[FileRecord]],
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.changes = changes
        self.data_dir = data_dir
        self._find_file = find_file
        self._stopping = False
        self._work: dict[str, tuple[asyncio.Task[None], float]] = {}
        """Results being written, by task id, with the emulated time the task is due."""

    @property
    def dir(self) -> Path:
        return self.data_dir / "results"

    # ------------------------------------------------------------------------------------------------ submit

    async def create_embedding_task(self, tenant: Tenant, body: dict[str, Any], rid: str, base_url: str) -> TaskRow:
        model = str(body.get("model"))
        spec = ASYNC_MODELS[model]
        given = body.get("input")
        if not isinstance(given, dict) or not given:
            raise EmptyInput()
        url = given.get("url")
        if not isinstance(url, str) or not url:
            raise InvalidParameter("Value error, url is required.: input.url", param="input.url")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidParameter("parameters must be an object.", param="parameters")
        if params.get("text_type") not in (None, "query", "document"):
            raise InvalidParameter(
                "Value error, text_type should be one of ['query', 'document'].: parameters.text_type"
            )
        now = self.clock.now()
        if await store.active_count(self.db, tenant.id, now) >= ASYNC_MAX_ACTIVE:
            raise Throttling(f"Too many queued or running tasks: at most {ASYNC_MAX_ACTIVE} per account.")
        self.dir.mkdir(parents=True, exist_ok=True)
        staged = self.dir / f"{rid}.staged"  # copied before the transaction: a big input never holds the writer
        try:
            size = await self._copy_input(tenant, url, base_url, staged)
            async with self.db.transaction() as tx:
                seq = await tx.next_seq("task")
                task_id = self.ids.uuid("task", seq)
                token = self.ids.hex("task-token", seq, 32)
                task = self._row(tenant, task_id, token, model, url, params, rid, now, size)
                await store.insert_task(tx, task)
                if size is not None:
                    os.replace(staged, self.dir / f"{task_id}.input")
        finally:
            staged.unlink(missing_ok=True)
        if size is not None:
            self._start(task, spec.space, spec.default_dimension, spec.max_tokens)
        return task

    @staticmethod
    def _row(
        tenant: Tenant,
        task_id: str,
        token: str,
        model: str,
        url: str,
        params: dict[str, Any],
        rid: str,
        now: float,
        size: int | None,
    ) -> TaskRow:
        return TaskRow(
            task_id=task_id,
            tenant=tenant.id,
            api_key_id=tenant.api_key_id,
            account_id=tenant.account_id,
            kind="text-embedding",
            model=model,
            request={"input": {"url": url}, "parameters": params},
            request_id=rid,
            created_at=now,
            run_seconds=1.0 + (size or 0) / 50_000,
            canceled_at=None,
            outcome=None if size is not None else "FAILED",
            code=None if size is not None else "InvalidURL",
            message=None if size is not None else INVALID_URL,
            tokens=0,
            lines=0,
            token=token,
            blob=None,
        )

    async def _copy_input(self, tenant: Tenant, url: str, base_url: str, target: Path) -> int | None:
        """The input's bytes copied to ``target``, their size; None when the URL names nothing this emulator has."""
        if url.startswith("data:"):
            head, _, payload = url.partition(",")
            try:
                data = (
                    base64.b64decode(payload, validate=True) if head.endswith(";base64") else unquote_to_bytes(payload)
                )
            except (binascii.Error, ValueError):
                return None
            await asyncio.to_thread(target.write_bytes, data)
            return len(data)
        parts = urlsplit(url)
        here = urlsplit(base_url)
        match = _FILE_PATH.match(parts.path)
        if parts.scheme not in ("http", "https") or parts.netloc != here.netloc or match is None:
            return None
        try:
            record = await self._find_file(tenant, match.group(1))
        except FileNotFound:
            return None
        source = self.data_dir / record.blob
        if record.size > MAX_INPUT_BYTES:
            return None
        await asyncio.to_thread(shutil.copyfile, source, target)
        return int(record.size)

    def _lock_path(self, task_id: str) -> Path:
        """Held while a process writes the task's result (``emulator.worklock``)."""
        return self.dir / f"{task_id}.lock"

    def _start(self, task: TaskRow, space: str, dim: int, max_tokens: int, hold: int | None = None) -> None:
        task_id = task.task_id
        hold = worklock.claim(self._lock_path(task_id)) if hold is None else hold
        if hold is None:  # another worker process writes its result (each resumes the unfinished tasks at start)
            log.info("task %s is written by another worker process", task_id)
            return
        work = asyncio.get_running_loop().create_task(self._produce(task_id, space, dim, max_tokens))
        self._work[task_id] = (work, task.times().due_at)

        def done(_: object) -> None:
            self._work.pop(task_id, None)
            worklock.release(hold)
            self._lock_path(task_id).unlink(missing_ok=True)  # a later claim re-reads the task first

        work.add_done_callback(done)

    async def sync_all(self) -> None:
        """After the clock moved: the results of the tasks now due are written before the caller goes on, so a
        frozen clock's advance leaves every due task final."""
        now = self.clock.now()
        due = [work for work, due_at in self._work.values() if due_at <= now]
        await asyncio.gather(*due, return_exceptions=True)

    async def _produce(self, task_id: str, space: str, dim: int, max_tokens: int) -> None:
        source = self.dir / f"{task_id}.input"
        blob = f"results/{task_id}.txt.gz"
        try:
            outcome = await asyncio.to_thread(write_result, source, self.data_dir / blob, space, dim, max_tokens)
        except OSError:
            log.exception("batch embedding task %s: result not written", task_id)
            outcome = ("FAILED", "InternalError", "The task failed: its result could not be written.", 0, 0)
        if self._stopping:
            return  # at shutdown: the input is kept, the restart writes the result again
        status, code, message, tokens, lines = outcome
        async with self.db.transaction() as tx:
            await store.set_outcome(tx, task_id, status, code, message, tokens, lines, blob if code is None else None)
        source.unlink(missing_ok=True)  # kept until the outcome is stored: a restart before that starts over
        self.changes.notify(task_id)

    async def start(self) -> None:
        """After a restart or a restore: tasks whose result was being written start over (their input was kept)."""
        for task in await store.unfinished(self.db):
            spec = ASYNC_MODELS.get(task.model)
            if task.task_id in self._work:  # still being written (a restore of the task it already runs)
                continue
            if spec is None or not (self.dir / f"{task.task_id}.input").exists():
                continue
            hold = worklock.claim(self._lock_path(task.task_id))
            if hold is None:  # another worker process writes it
                continue
            now = await store.find_task(self.db, task.task_id)  # as it is now the hold is ours
            finished = now is None or now.outcome is not None or now.canceled_at is not None
            if finished or not (self.dir / f"{task.task_id}.input").exists():
                worklock.release(hold)  # finished by the process that held it until a moment ago
                continue
            self._start(task, spec.space, spec.default_dimension, spec.max_tokens, hold)

    async def stop(self) -> None:
        """Results being written finish their file (bounded by the input) but store nothing: never cancelled inside a
        database write; one stuck past 10 s is cancelled."""
        self._stopping = True
        works = [work for work, _ in self._work.values()]
        if works:
            _, late = await asyncio.wait(works, timeout=10)
            for work in late:
                work.cancel()
            await asyncio.gather(*works, return_exceptions=True)

    # ------------------------------------------------------------------------------------------------- reads

    def status(self, task: TaskRow) -> TaskStatus:
        return status_at(task.times(), self.clock.now())

    async def get_task(self, tenant: Tenant, task_id: str) -> TaskRow | None:
        task = await store.get_task(self.db, tenant.id, task_id)
        if task is None or self.status(task) is TaskStatus.UNKNOWN:
            return None
        return task

    def output(self, task: TaskRow, result_base: str) -> dict[str, Any]:
        now = self.clock.now()
        times = task.times()
        status = status_at(times, now)
        out: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status.value,
            "submit_time": fmt_task_time(task.created_at),
        }
        if status is not TaskStatus.PENDING and task.canceled_at is None:
            out["scheduled_time"] = fmt_task_time(times.started_at)
        end = ended_at(times, now)
        if end is not None:
            out["end_time"] = fmt_task_time(end)
        if status is TaskStatus.SUCCEEDED:
            out["url"] = self.result_url(task, result_base)
        elif status is TaskStatus.FAILED:
            out["code"] = task.code
            out["message"] = task.message
        return out

    def result_url(self, task: TaskRow, base: str) -> str:
        end = task.times().due_at
        expires = int(end + RESULT_URL_SECONDS)
        name = f"{task.task_id}_output_{int(end * 1000)}.txt.gz"
        return (
            f"{base.rstrip('/')}/_oss/dashscope-result/{name}?Expires={expires}&OSSAccessKeyId=emulator"
            f"&Signature={task.token}"
        )

    async def result_file(self, name: str, signature: str | None, expires: str | None) -> Path | None:
        """The result a signed URL names, while its signature holds; None otherwise."""
        task_id = name.split("_output_", 1)[0]
        task = await store.find_task(self.db, task_id)
        if task is None or task.blob is None or signature != task.token:
            return None
        if self.clock.now() > task.times().due_at + RESULT_URL_SECONDS:
            return None
        if status_at(task.times(), self.clock.now()) is not TaskStatus.SUCCEEDED:
            return None
        path = self.data_dir / task.blob
        return path if path.exists() else None

    async def list_tasks(
        self, tenant: Tenant, since: float, until: float, model: str | None, status: str | None, task_id: str | None
    ) -> list[TaskRow]:
        rows = await store.list_tasks(self.db, tenant.id, since, until, model, task_id)
        now = self.clock.now()
        rows = [r for r in rows if status_at(r.times(), now) is not TaskStatus.UNKNOWN]
        if status:
            rows = [r for r in rows if status_at(r.times(), now).value == status]
        return rows

    def list_item(self, task: TaskRow) -> dict[str, Any]:
        now = self.clock.now()
        times = task.times()
        item: dict[str, Any] = {
            "api_key_id": task.api_key_id,
            "caller_parent_id": task.account_id,
            "caller_uid": task.account_id,
        }
        end = ended_at(times, now)
        if end is not None:
            item["end_time"] = int(end * 1000)
        item.update(
            {
                "gmt_create": int(task.created_at * 1000),
                "model_name": task.model,
                "region": "cn-beijing",
                "request_id": task.request_id,
                "start_time": int(times.started_at * 1000),
                "status": status_at(times, now).value,
                "task_id": task.task_id,
                "user_api_unique_key": f"apikey:v1:embeddings:text-embedding:text-embedding:{task.model}",
            }
        )
        return item

    # ----------------------------------------------------------------------------------------------- actions

    async def cancel_task(self, tenant: Tenant, task_id: str) -> None:
        async with self.db.transaction() as tx:
            task = await store.get_task(tx, tenant.id, task_id)
            now = self.clock.now()
            if task is None or status_at(task.times(), now) is not TaskStatus.PENDING:
                raise UnsupportedOperation(CANCEL_REFUSED)
            await store.cancel_task(tx, task_id, now)
        self.changes.notify(task_id)

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None]]:
        blobs = await store.delete_tasks(tx, tenant)

        def remove() -> None:
            for blob in blobs:
                (self.data_dir / blob).unlink(missing_ok=True)

        return len(blobs), remove


def write_result(
    source: Path, target: Path, space: str, dim: int, max_tokens: int
) -> tuple[str, str | None, str | None, int, int]:
    """The result file of a batch embedding (reference §6.8, [GUESS] shape): one JSON line per input line, in
    order; an empty or over-long line gets an error line.  Answers (outcome, code, message, tokens, lines)."""
    if source.stat().st_size > MAX_INPUT_BYTES:
        return "FAILED", "InvalidParameter", f"The input file is larger than {MAX_INPUT_BYTES} bytes.", 0, 0
    partial = target.with_suffix(".part")
    tokens = lines = 0
    with source.open("rb") as src, gzip.open(partial, "wt", encoding="utf-8", compresslevel=1) as out:
        for index, raw in enumerate(src):
            if index >= ASYNC_MAX_LINES:
                out.close()
                partial.unlink(missing_ok=True)
                message = f"Value error, the file should not have more than {ASYNC_MAX_LINES} lines.: input.url"
                return "FAILED", "InvalidParameter", message, 0, 0
            lines += 1
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                out.write(_error_line(index, "Value error, the line is not valid UTF-8."))
                continue
            n = count_tokens(text)
            if not text.strip():
                out.write(_error_line(index, "Value error, text should not be empty."))
            elif n > max_tokens:
                out.write(_error_line(index, f"Range of input length should be [1, {max_tokens}]"))
            else:
                tokens += n
                out.write(
                    '{"output":{"code":200,"message":"Success","text_index":'
                    + str(index)
                    + ',"embedding":'
                    + vectors.embed_json(text, dim, space)
                    + '},"usage":{"total_tokens":'
                    + str(n)
                    + "}}\n"
                )
    os.replace(partial, target)
    return "SUCCEEDED", None, None, tokens, lines


def _error_line(index: int, message: str) -> str:
    return json.dumps({"output": {"code": 400, "message": message, "text_index": index}}, ensure_ascii=False) + "\n"
