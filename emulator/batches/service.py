"""Batches: create (the synchronous checks), read, list, cancel; the worker that checks and answers the lines; the
cut of the output and error files.  Plain values in, ApiError out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.types import Scope

from emulator import worklock
from emulator.batches import lines, store
from emulator.batches.callbacks import KEY as CALLBACK
from emulator.batches.callbacks import CallbackOutbox, check_url
from emulator.batches.decide import Decided, LineRules
from emulator.batches.states import CANCELLABLE, BatchStatus, due_to_finalize, finalize_at, lines_done, status_at
from emulator.batches.store import BatchRow
from emulator.batches.wire import batch_dict
from emulator.changes import CLOCK, Signal
from emulator.clock import Clock
from emulator.context import CONTEXT
from emulator.db import Database, Tx
from emulator.embeddings.specs import TEXT_MODELS
from emulator.errors import ApiError, FileNotFound, InvalidParameter, NotFound, Throttling
from emulator.files.schemas import FailedUpload
from emulator.files.service import FilesService
from emulator.files.upload import StagedFile
from emulator.generation.service import GenerationService
from emulator.ids import Ids
from emulator.tenants import Tenant

log = logging.getLogger("emulator")

OUTPUT_PURPOSE = "batch_output"
OUTPUT_PREFIX = "file-batch_output-"
SLICE = 0.02
"""Seconds of line answering between two yields to the event loop (a chunk's size follows the lines' cost)."""
SECONDS_PER_LINE = 0.02
"""Default of ``--batch-line-seconds``: the emulated time a line takes (a 50,000-line batch: ~17 minutes)."""
CANCELLED = {"code": "batch_cancelled", "message": "Request cancelled."}
EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
"""OpenAI's error for the lines of an expired batch (reference 2026-apps §10 Q14)."""
_WINDOW = re.compile(r"^(\d+)([hd])$")
TEST_MAX_ACTIVE = 2
_LINE_JSON = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(..., ensure_ascii=False)`` without building an encoder per line."""
_TIMER = "batches:timer"
"""The change key that wakes the finish timer (a batch with a callback got a new due time)."""


def window_seconds(value: object) -> float:
    match = _WINDOW.match(value) if isinstance(value, str) else None
    hours = (int(match.group(1)) * (24 if match.group(2) == "d" else 1)) if match else 0
    if not 24 <= hours <= 336:
        raise InvalidParameter(
            "completion_window must be between 24h and 336h (1d and 14d).", param="completion_window"
        )
    return hours * 3600.0


def check_metadata(metadata: object) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise InvalidParameter("metadata must be an object of at most 16 string values.", param="metadata")
    limits = {"ds_name": 100, "ds_description": 200}
    for key, value in metadata.items():
        if not isinstance(value, str) or len(value) > limits.get(key, 512):
            raise InvalidParameter(f"metadata.{key} must be a string of at most {limits.get(key, 512)} characters.")
    if CALLBACK in metadata:
        check_url(metadata[CALLBACK])
    return dict(metadata)


def callback_url(row: BatchRow) -> str | None:
    url = (row.metadata or {}).get(CALLBACK)
    return url if isinstance(url, str) and url else None


def _owner(tenant_id: str) -> Tenant:
    """The tenant a batch's worker writes files for: only its id is known (and used) there."""
    return Tenant(tenant_id, "", "", "", "", False)


class BatchesService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: Ids,
        changes: Signal,
        data_dir: Path,
        files: FilesService,
        generation: GenerationService,
        rules: LineRules | None = None,
        line_seconds: float = SECONDS_PER_LINE,
        callbacks: CallbackOutbox | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.changes = changes
        self.data_dir = data_dir
        self.files = files
        self.generation = generation
        self.line_seconds = line_seconds
        self.rules = rules or LineRules()
        """The fault and response rules (and the journal) each line meets, as the request it stands for."""
        self._work: dict[str, asyncio.Task[None]] = {}
        self._stop_at: dict[str, int] = {}
        """A cancelled batch's worker stops after this many lines (an expiring one's: those that fit its window)."""
        self._finalizing = asyncio.Lock()
        self._stopping = False
        self.callbacks = callbacks
        """Where a finalized batch's finish callback goes (None: nowhere)."""
        self._due: dict[str, float] = {}
        """Batches with a callback, not yet finalized, whose finalize time is known: the timer finalizes them then."""
        self._timer: asyncio.Task[None] | None = None

    @property
    def dir(self) -> Path:
        return self.data_dir / "results"

    def _results(self, batch_id: str) -> Path:
        return self.dir / f"{batch_id}.all.jsonl"

    # ------------------------------------------------------------------------------------------------ create

    async def create_batch(self, tenant: Tenant, body: dict[str, Any]) -> BatchRow:
        endpoint = body.get("endpoint")
        if endpoint not in lines.ENDPOINTS:
            raise InvalidParameter(f"endpoint must be one of {', '.join(lines.ENDPOINTS)}.", param="endpoint")
        window = window_seconds(body.get("completion_window"))
        metadata = check_metadata(body.get("metadata"))
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise InvalidParameter("input_file_id is required.", param="input_file_id")
        try:
            record = await self.files.get_file(tenant, file_id)
        except FileNotFound:
            raise NotFound(f"No such File object: {file_id}", param="input_file_id") from None
        if record.purpose != "batch":
            raise InvalidParameter("The input file must be uploaded with purpose 'batch'.", param="input_file_id")
        if endpoint == lines.TEST_URL and await store.count_open(self.db, tenant.id, lines.TEST_URL) >= TEST_MAX_ACTIVE:
            raise Throttling(f"At most {TEST_MAX_ACTIVE} batches of the test model run at once.")
        now = self.clock.now()
        async with self.db.transaction() as tx:
            seq = await tx.next_seq("batch")
            row = BatchRow(
                seq=0, batch_id="batch_" + self.ids.uuid("batch", seq), tenant=tenant.id, input_file_id=file_id,
                endpoint=str(endpoint), completion_window=str(body["completion_window"]), window_seconds=window,
                metadata=metadata, model=None, created_at=now, validate_seconds=1.0 + record.size / 5_000_000,
                run_seconds=0.0, validated=False, valid=False, errors=[], total=0, ok=0, failed=0, produced=False,
                cancel_at=None, finalized=False, output_file_id=None, error_file_id=None,
            )  # fmt: skip
            await store.insert_batch(tx, row)
        self._start(row.batch_id, tenant, self.files.blob_path(record), str(endpoint))
        return row

    def _start(self, batch_id: str, tenant: Tenant, source: Path, endpoint: str, hold: int | None = None) -> None:
        hold = worklock.claim(self._lock_path(batch_id)) if hold is None else hold
        if hold is None:
            log.info("batch %s is run by another worker process", batch_id)
            return
        work = asyncio.get_running_loop().create_task(self._run(batch_id, tenant, source, endpoint))
        self._work[batch_id] = work

        def done(_: object) -> None:
            self._work.pop(batch_id, None)
            worklock.release(hold)

        work.add_done_callback(done)

    def _lock_path(self, batch_id: str) -> Path:
        """Held while a process runs the batch's lines (``emulator.worklock``)."""
        return self.dir / f"{batch_id}.lock"

    async def _run(self, batch_id: str, tenant: Tenant, source: Path, endpoint: str) -> None:
        try:
            checked = await asyncio.to_thread(lines.validate, source, endpoint, self._runnable)
        except OSError:  # the input file went (deleted meanwhile)
            checked = lines.Checked(
                errors=[{"code": "file_not_found", "message": "The input file is gone.", "param": None, "line": 0}]
            )
        if self._stopping:
            return  # at shutdown, between two writes: the restart starts the batch over
        valid = not checked.errors
        async with self.db.transaction() as tx:
            run = 3.0 + self.line_seconds * checked.lines
            await store.set_validated(
                tx, batch_id, valid, checked.errors, checked.lines if valid else 0, checked.model, run
            )
        row = await store.find_batch(self.db, batch_id)
        if row is not None and row.cancel_at is None and row.facts().expires:
            self._stop_at[batch_id] = lines_done(row.facts(), row.total, row.facts().deadline)
        self._watch(row)
        if valid and not await self._produce(batch_id, tenant, source, endpoint):
            return
        async with self.db.transaction() as tx:
            await store.set_produced(tx, batch_id)
        self.changes.notify(batch_id)
        if row is not None and self._calls_back(row):
            self._watch(await store.find_batch(self.db, batch_id))

    def _runnable(self, model: str, url: str) -> bool:
        if url == lines.TEST_URL:
            return model == lines.TEST_MODEL
        if url == "/v1/embeddings":
            return model in lines.EMBEDDING_MODELS
        catalog = self.generation.catalog
        return catalog.get(model) is not None or model not in TEXT_MODELS  # fine-tuned names resolve per line

    async def _produce(self, batch_id: str, tenant: Tenant, source: Path, endpoint: str) -> bool:
        """Each line's output (``O``) or error (``E``) line, in input order, in the private results file; False
        when the server stops first."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self._results(batch_id)
        with source.open("rb") as src, target.open("w", encoding="utf-8") as out:
            index = 0
            since = time.monotonic()
            for raw in src:
                if not raw.strip():
                    continue
                stop = self._stop_at.get(batch_id)
                if stop is not None and index >= stop:
                    break
                line = json.loads(raw)
                kind, text = await self._answer(tenant, line, endpoint, batch_id)
                out.write(f"{kind}{text}\n")
                index += 1
                if time.monotonic() - since >= SLICE:
                    await asyncio.sleep(0)
                    since = time.monotonic()
                    if self._stopping:
                        return False
        return True

    async def _answer(self, tenant: Tenant, line: dict[str, Any], endpoint: str, batch_id: str) -> tuple[str, str]:
        rid = self.ids.request_id()
        body = line["body"]
        active = self.rules.active()
        scope = self.rules.scope(endpoint, tenant, rid, batch_id, line["custom_id"]) if active else None
        try:
            decided = await self.rules.decide(scope, body) if scope is not None else None
            if decided is not None:
                kind, text = _scripted_line(rid, line["custom_id"], decided)
            else:
                answer = await self._pipeline(tenant, body, endpoint, rid, scope)
                response = {"status_code": 200, "request_id": rid, "body": answer}
                line_out = {"id": rid, "custom_id": line["custom_id"], "response": response, "error": None}
                kind, text = "O", _LINE_JSON(line_out)
        except ApiError as exc:
            error = {"id": rid, "custom_id": line["custom_id"], "response": None,
                     "error": {"code": exc.code, "message": exc.message}}  # fmt: skip
            kind, text = "E", json.dumps(error, ensure_ascii=False)
            if scope is not None:
                self.rules.journal_line(scope, body, exc.status, json.dumps(error["error"], ensure_ascii=False))
            return kind, text
        if scope is not None:
            self.rules.journal_line(scope, body, decided.status if decided is not None else 200, text)
        return kind, text

    async def _pipeline(
        self, tenant: Tenant, body: dict[str, Any], endpoint: str, rid: str, scope: Scope | None
    ) -> dict[str, Any]:
        """The line's answer from the pipeline its endpoint's requests go through (an ``ApiError`` for a bad one)."""
        if endpoint == lines.TEST_URL:
            return lines.test_model_answer(body, rid, int(self.clock.now()))
        if endpoint == "/v1/embeddings":
            return lines.embedding_answer(body, rid)
        ctx = scope[CONTEXT] if scope is not None else None
        return await lines.compatible_chat_completion(self.generation, tenant, body, rid, int(self.clock.now()), ctx)

    # ------------------------------------------------------------------------------------------------ reads

    async def get_batch(self, tenant: Tenant, batch_id: str) -> BatchRow:
        row = await store.get_batch(self.db, tenant.id, batch_id)
        if row is None:
            raise NotFound("Batch not found", param="batch_id")
        return await self._refresh(row)

    async def _refresh(self, row: BatchRow) -> BatchRow:
        if not due_to_finalize(row.facts(), self.clock.now()):
            return row
        async with self._finalizing:
            fresh = await store.find_batch(self.db, row.batch_id)
            if fresh is None or not due_to_finalize(fresh.facts(), self.clock.now()):
                return fresh or row
            await self._finalize(fresh)
            again = await store.find_batch(self.db, row.batch_id)
            return again or fresh

    async def _finalize(self, row: BatchRow) -> None:
        """Cut the output and error files from the results: the lines run before a cancel, or before an expiring
        batch's deadline, keep their answers; the others go to the error file (cancelled or expired)."""
        total, facts = row.total, row.facts()
        if not row.valid and row.cancel_at is None:  # failed: no line ran, no file to cut
            async with self.db.transaction() as tx:
                first = await store.set_finalized(tx, row.batch_id, 0, 0, None, None)
            self.changes.notify(row.batch_id)
            if first:
                await self._call_back(row.batch_id)
            return
        if row.cancel_at is not None:
            done, leftover = lines_done(facts, total, row.cancel_at), CANCELLED
        else:
            done, leftover = lines_done(facts, total, facts.deadline), EXPIRED  # all of them but in an expiry
        results = self._results(row.batch_id)
        temp = self.data_dir / "tmp"
        temp.mkdir(parents=True, exist_ok=True)
        # another worker process may be cutting the same batch (each finalizes what it finds due): parts of its own
        part = f"{row.batch_id}.{uuid.uuid4().hex[:12]}"
        out_path, err_path = temp / f"{part}.output.part", temp / f"{part}.error.part"
        source = (
            self.files.blob_path(await self.files.get_file(_owner(row.tenant), row.input_file_id))
            if row.valid and done < total
            else None
        )
        owner = _owner(row.tenant)
        output_id = error_id = None
        try:
            ok, failed = await asyncio.to_thread(
                _cut, results, out_path, err_path, done, total, source, self.ids.request_id, leftover
            )
            # as the recorded cancelled batch: no output file when no line was answered (its lines are in the error
            # file)
            output_id = await self._keep(owner, out_path, f"{row.batch_id}_success.jsonl") if row.valid and ok else None
            error_id = await self._keep(owner, err_path, f"{row.batch_id}_error.jsonl") if failed else None
        except FileNotFoundError:  # the results went with the other process's finalize, between exists and open
            ok = failed = 0
        finally:
            out_path.unlink(missing_ok=True)
            err_path.unlink(missing_ok=True)
        async with self.db.transaction() as tx:
            first = await store.set_finalized(tx, row.batch_id, ok, failed, output_id, error_id)
        if first:
            results.unlink(missing_ok=True)
            self._lock_path(row.batch_id).unlink(missing_ok=True)
        self.changes.notify(row.batch_id)
        if first:
            await self._call_back(row.batch_id)
            return
        for file_id in (output_id, error_id):  # finalized by another process meanwhile: its files stand, not these
            if file_id is not None:
                await self._drop(owner, file_id)

    async def _drop(self, owner: Tenant, file_id: str) -> None:
        try:
            await self.files.delete_file(owner, file_id)
        except FileNotFound:
            pass

    async def _call_back(self, batch_id: str) -> None:
        """The batch reads final from now on: its finish callback is due, once, with the batch as a read shows it."""
        self._due.pop(batch_id, None)
        row = await store.find_batch(self.db, batch_id)
        if row is None or self.callbacks is None:
            return
        url = callback_url(row)
        if url is not None:
            now = self.clock.now()
            self.callbacks.submit(batch_id, url, batch_dict(row, status_at(row.facts(), now), now))

    async def _keep(self, owner: Tenant, path: Path, name: str) -> str | None:
        if not path.exists():
            return None
        md5 = await asyncio.to_thread(_md5, path)
        kept = await self.files.add_file(
            owner, StagedFile(name, path, path.stat().st_size, md5), OUTPUT_PURPOSE, OUTPUT_PREFIX
        )
        if isinstance(kept, FailedUpload):
            log.warning("batch output %s not kept: %s", name, kept.message)
            return None
        return kept

    async def list_batches(
        self, tenant: Tenant, after: str | None, limit: int, keep: Callable[[BatchRow], bool]
    ) -> tuple[list[BatchRow], bool]:
        before = 1 << 62
        if after:
            found = await store.get_batch(self.db, tenant.id, after)
            if found is None:
                return [], False
            before = found.seq
        chosen: list[BatchRow] = []
        scanned = 0
        while len(chosen) <= limit and scanned < 10_000:
            rows = await store.list_batches(self.db, tenant.id, before, 200)
            if not rows:
                break
            scanned += len(rows)
            before = rows[-1].seq
            for row in rows:
                row = await self._refresh(row)
                if keep(row):
                    chosen.append(row)
        return chosen[:limit], len(chosen) > limit

    def status(self, row: BatchRow) -> BatchStatus:
        return status_at(row.facts(), self.clock.now())

    # --------------------------------------------------------------------------------------------- actions

    async def cancel_batch(self, tenant: Tenant, batch_id: str) -> BatchRow:
        async with self.db.transaction() as tx:
            row = await store.get_batch(tx, tenant.id, batch_id)
            if row is None:
                raise NotFound("Batch not found", param="batch_id")
            now = self.clock.now()
            status = status_at(row.facts(), now)
            if status not in CANCELLABLE:
                raise InvalidParameter(
                    f"Batch {batch_id} cannot be cancelled because it is already {status.value}.", param=None
                )
            await store.set_cancel(tx, batch_id, now)
        self._stop_at[batch_id] = lines_done(row.facts(), row.total, now) if row.validated else 0
        self.changes.notify(batch_id)
        cancelled = replace(row, cancel_at=now)
        self._watch(cancelled)
        return cancelled

    async def sync_all(self) -> None:
        """After the clock moved: the workers of batches now due finish, then every due batch is finalized."""
        now = self.clock.now()
        pending = []
        for batch_id, work in list(self._work.items()):
            row = await store.find_batch(self.db, batch_id)
            if row is None:
                continue
            facts = row.facts()
            due = now >= facts.started_at if not facts.validated else now >= min(facts.done_at, facts.deadline)
            if due or (row.cancel_at is not None and now >= row.cancel_at):
                pending.append(work)
        await asyncio.gather(*pending, return_exceptions=True)
        for row in await store.open_batches(self.db):
            await self._refresh(row)

    async def start(self) -> None:
        """After a restart or a restore: batches whose lines were being checked or answered start over (one restored
        from a snapshot taken after its lines were answered but before its files were cut has no results file)."""
        for row in await store.open_batches(self.db):
            self._watch(row)
            if row.batch_id in self._work or (row.validated and not row.valid):
                continue
            if row.produced and self._results(row.batch_id).exists():
                continue
            try:
                record = await self.files.get_file(_owner(row.tenant), row.input_file_id)
            except FileNotFound:
                continue
            hold = worklock.claim(self._lock_path(row.batch_id))
            if hold is None:  # another worker process runs it
                continue
            row = await store.find_batch(self.db, row.batch_id) or row  # as it is now the hold is ours
            if row.finalized or (row.produced and self._results(row.batch_id).exists()):
                worklock.release(hold)  # finished by the process that held it until a moment ago
                continue
            if row.cancel_at is not None:
                self._stop_at[row.batch_id] = lines_done(row.facts(), row.total, row.cancel_at) if row.validated else 0
            elif row.facts().expires:
                self._stop_at[row.batch_id] = lines_done(row.facts(), row.total, row.facts().deadline)
            self._start(row.batch_id, _owner(row.tenant), self.files.blob_path(record), row.endpoint, hold)

    async def stop(self) -> None:
        """Workers stop at their next safe point (never inside a database write); one stuck past 10 s is cancelled."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        works = list(self._work.values())
        if works:
            _, late = await asyncio.wait(works, timeout=10)
            for work in late:
                work.cancel()
            await asyncio.gather(*works, return_exceptions=True)

    # ------------------------------------------------------------------------------------------ finish timer

    def _calls_back(self, row: BatchRow) -> bool:
        return self.callbacks is not None and callback_url(row) is not None

    def _watch(self, row: BatchRow | None) -> None:
        """A batch with a finish callback is finalized when due even if nobody reads it (the clock running): the
        timer wakes for it.  A batch without one stays lazy, finalized by the read (or clock change) that finds it
        due."""
        if row is None or not self._calls_back(row):
            return
        at = finalize_at(row.facts())
        if at is None:
            self._due.pop(row.batch_id, None)
            return
        self._due[row.batch_id] = at
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._tick())
        else:
            self.changes.notify(_TIMER)

    async def _tick(self) -> None:
        """Sleeps until the first due batch (in wall seconds at the clock's pace; until the clock moves when it is
        frozen), finalizes what is due, and ends when nothing waits."""
        while self._due and not self._stopping:
            wait = self.clock.wall_seconds_until(min(self._due.values()))
            if wait is None or wait > 0:
                await self.changes.wait(wait, keys=(CLOCK, _TIMER))
                continue
            now = self.clock.now()
            for batch_id in [b for b, at in self._due.items() if at <= now]:
                self._due.pop(batch_id, None)
                row = await store.find_batch(self.db, batch_id)
                if row is None:
                    continue
                try:
                    fresh = await self._refresh(row)
                except Exception:  # a batch that cannot be finalized must not stop the others' callbacks
                    log.exception("batch %s not finalized", batch_id)
                    continue
                if not fresh.finalized:
                    self._watch(fresh)

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None]]:
        ids = await store.delete_batches(tx, tenant)

        def remove() -> None:
            for batch_id in ids:
                self._results(batch_id).unlink(missing_ok=True)
                self._lock_path(batch_id).unlink(missing_ok=True)

        return len(ids), remove


def _scripted_line(rid: str, custom_id: str, decided: Decided) -> tuple[str, str]:
    """A response rule's answer as the line's: below 400 an output line, else an error-file line carrying it."""
    response = {"status_code": decided.status, "request_id": rid, "body": decided.body}
    text = json.dumps({"id": rid, "custom_id": custom_id, "response": response, "error": None}, ensure_ascii=False)
    return ("O" if decided.status < 400 else "E"), text


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def _cut(
    results: Path,
    out_path: Path,
    err_path: Path,
    done: int,
    total: int,
    source: Path | None,
    request_id: Callable[[], str],
    leftover: dict[str, str] = CANCELLED,
) -> tuple[int, int]:
    """Split the results into the output and error files; lines from ``done`` on were never run (cancelled or
    expired: ``leftover``, their custom ids read back from the input).  Answers (completed, failed)."""
    ok = failed = 0
    with out_path.open("w", encoding="utf-8") as out, err_path.open("w", encoding="utf-8") as err:
        if results.exists():
            with results.open(encoding="utf-8") as src:
                for index, line in enumerate(src):
                    if index >= done:
                        break
                    if line[0] == "O":
                        out.write(line[1:])
                        ok += 1
                    else:
                        err.write(line[1:])
                        failed += 1
        if source is not None and done < total:
            with source.open("rb") as src_in:
                index = 0
                for raw in src_in:
                    if not raw.strip():
                        continue
                    if index >= done:
                        custom_id = json.loads(raw).get("custom_id")
                        error = leftover
                        err.write(
                            json.dumps(
                                {"id": request_id(), "custom_id": custom_id, "response": None, "error": error},
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
                        failed += 1
                    index += 1
    if failed == 0:
        err_path.unlink(missing_ok=True)
    return ok, failed
