"""Fine-tune jobs: create with validation, lazy progression on every read, cancel, delete, logs.

Status is never set by a timer: the stored status is the last derived one, and a read first applies the
tenant's transitions that fell due by the emulated "now" (``states.settle``: the slot holder, the head of the
queue and the jobs due, never the whole queue), so a read always sees exactly what the clock says, across
restarts; a clock change applies what fell due at once (``sync_all``).  When nothing is due, a read is one
indexed query more than the row itself.
"""

from __future__ import annotations

import array
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from emulator.catalog import TRAINING_TYPES, Catalog, ModelInfo, load_catalog, model_hint
from emulator.changes import CLOCK, Signal
from emulator.clock import Clock, fmt_job_time
from emulator.db import Database, Tx, VersionedCache
from emulator.errors import FileNotFound, InvalidParameter, ModelNotExist, NotFound, UnsupportedOperation
from emulator.files import store as file_store
from emulator.files.store import FileStats
from emulator.fine_tunes import store
from emulator.fine_tunes.hyperparams import EffectiveHyperParameters, HyperParameterError, validate_hyper_parameters
from emulator.fine_tunes.joblog import JobLogs
from emulator.fine_tunes.schemas import CreateJobRequest
from emulator.fine_tunes.states import (
    CANCEL_SECONDS,
    HOLDS_SLOT,
    TERMINAL,
    IllegalTransition,
    JobStatus,
    JobTimes,
    Policy,
    cancel,
    force,
    settle,
    take_slot,
)
from emulator.fine_tunes.store import JobRow
from emulator.fine_tunes.training import TrainingPlan, plan_training
from emulator.ids import Ids
from emulator.settings import Settings
from emulator.tenants import Tenant

UNSUPPORTED_SECONDS = 4.0
MEMORY_SAMPLES = 200
_SFT_KINDS = {"sft", "image_sft"}
_ID_ATTEMPTS = 8


class ExportLookup(Protocol):
    """The job behind an exported checkpoint's model name (``ExportLedger.find_export``)."""

    async def __call__(self, tenant: Tenant, model_name: str, /) -> JobRow | None: ...


class JobDeleteHook(Protocol):
    """Runs inside a job's delete transaction; may refuse by raising ApiError (``DeploymentHold``)."""

    async def __call__(self, tx: Tx, tenant: Tenant, job: JobRow, /) -> None: ...


@dataclass(frozen=True)
class JobWatch:
    """One look at a followed job: ``job`` is None once it is gone; ``timed_out`` when nothing woke the watch."""

    job: JobRow | None
    now: float
    timed_out: bool


class _StoredQueue:
    """``states.QueueSource`` over the store, inside the transaction; remembers the rows it handed out."""

    def __init__(self, tx: Tx, tenant_id: str, policy: Policy) -> None:
        self.tx, self.tenant_id, self.policy = tx, tenant_id, policy
        self.rows: dict[str, tuple[JobRow, JobTimes]] = {}

    def _times(self, rows: list[JobRow]) -> list[JobTimes]:
        out = []
        for row in rows:
            times = row.times()
            self.rows[row.job_id] = (row, times)
            out.append(times)
        return out

    async def holder(self) -> JobTimes | None:
        row = await store.holder(self.tx, self.tenant_id)
        return None if row is None else self._times([row])[0]

    async def queued_after(self, seq: int, limit: int) -> list[JobTimes]:
        return self._times(await store.queued_after(self.tx, self.tenant_id, seq, limit))

    async def pending_due(self, now: float) -> list[JobTimes]:
        return self._times(await store.pending_due(self.tx, self.tenant_id, now - self.policy.pending_seconds))

    def take(self, job_id: str) -> JobRow:
        row, times = self.rows[job_id]
        row.take(times)
        return row


V = TypeVar("V")


@dataclass(slots=True)
class _CachedJob:
    """A status read kept by ``FineTunesService._read``: the row, when its tenant's next transition falls due, and
    renderings of the row (``job_view``)."""

    tenant: str
    job: JobRow
    due: float | None
    views: dict[Callable[[JobRow], Any], Any] = field(default_factory=dict)


class FineTunesService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: Ids,
        changes: Signal,
        settings: Settings,
        *,
        find_export: ExportLookup,
        before_delete: Sequence[JobDeleteHook],
        catalog: Catalog | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.changes = changes
        self.settings = settings
        self.catalog = catalog or load_catalog()
        self.policy = Policy(pending_seconds=settings.pending_seconds, cancel_seconds=CANCEL_SECONDS)
        self.logs = JobLogs(ids)
        self._find_export = find_export
        self._before_delete = tuple(before_delete)
        self._reads: VersionedCache[str, _CachedJob] = VersionedCache(db)
        """Status reads by job id, while nothing commits."""

    # ---------------------------------------------------------------- create

    async def create_job(self, tenant: Tenant, req: CreateJobRequest) -> JobRow:
        training_type = (req.training_type or "sft").strip()
        if training_type not in TRAINING_TYPES:
            raise InvalidParameter(
                f"training_type must be one of {', '.join(TRAINING_TYPES)} (got {training_type!r}).",
                param="training_type",
            )
        train_ids = _clean_ids(req.training_file_ids)
        if not train_ids:
            raise InvalidParameter("Missing training files", param="training_file_ids")
        val_ids = _clean_ids(req.validation_file_ids)
        base, parent = await self._resolve_model(tenant, req.model)
        stats = await self._dataset_stats(tenant, train_ids + val_ids)
        _check_kinds(stats, train_ids, val_ids, training_type, base)
        hp = _validate_hp(req.hyper_parameters, training_type, base)
        supported = self.catalog.supported_methods(base.id, strict=self.settings.strict)
        if training_type not in supported and self.settings.strict:
            raise InvalidParameter(
                f"Model {req.model} does not support training_type {training_type}; supported: "
                f"{', '.join(supported) or 'none'}.",
                param="training_type",
            )
        plan = _plan(stats, train_ids, val_ids, hp, training_type, base)
        job = self._new_row(tenant, req, base, parent, training_type, train_ids, val_ids, hp, plan, supported)
        job.plan["datasets"] = [stats[i].name for i in train_ids + val_ids]
        memory = [pair for i in train_ids for pair in stats[i].samples][:MEMORY_SAMPLES]
        return await self._insert(tenant, req, job, memory)

    async def _resolve_model(self, tenant: Tenant, model: str) -> tuple[ModelInfo, JobRow | None]:
        info = self.catalog.get(model)
        if info is not None and info.fine_tunable:
            return info, None
        parent = await store.succeeded_by_output(self.db, tenant.id, model)
        if parent is not None:
            base = self.catalog.get(parent.base_model)
            if base is not None:
                return base, parent
        known = model_hint(self.catalog, fine_tunable=True)  # current bases, newest first
        raise ModelNotExist(
            f"Model not exist: {model!r} is neither a fine-tunable base model (e.g. {known}, ...) "
            "nor the finetuned_output of a succeeded fine-tune of this account.",
            param="model",
        )

    async def _dataset_stats(self, tenant: Tenant, ids: list[str]) -> dict[str, FileStats]:
        stats = await file_store.file_stats(self.db, tenant.id, list(dict.fromkeys(ids)))
        missing = [i for i in ids if i not in stats]
        if missing:
            raise FileNotFound(f"File not found: {missing[0]}")
        return stats

    def _new_row(
        self,
        tenant: Tenant,
        req: CreateJobRequest,
        base: ModelInfo,
        parent: JobRow | None,
        training_type: str,
        train_ids: list[str],
        val_ids: list[str],
        hp: EffectiveHyperParameters,
        plan: TrainingPlan,
        supported: tuple[str, ...],
    ) -> JobRow:
        now = self.clock.now()
        request = {
            "training_file_ids": train_ids,
            "validation_file_ids": val_ids,
            "hyper_parameters": dict(req.hyper_parameters or {}),
            "job_name": req.job_name,
            "suffix": req.finetuned_output_suffix,
            "output_name": req.model_name or req.finetuned_output,
            "account": tenant.account_id,
            "workspace": tenant.workspace,
        }
        plan_data = {
            "plan": _fields(plan),
            "hp": _fields(hp),
            "failure": plan.failure,
            "duration": plan.duration_seconds,
            "supported": list(supported),
            "unsupported": training_type not in supported,
        }
        if plan_data["unsupported"]:
            plan_data["duration"] = UNSUPPORTED_SECONDS
            plan_data["failure"] = (
                f"training_type {training_type} is not supported by model {req.model}; "
                f"supported: {', '.join(supported) or 'none'}"
            )
        return JobRow(
            seq=0,
            job_id="",
            tenant=tenant.id,
            status=JobStatus.PENDING,
            model=req.model,
            base_model=base.id if parent is None else parent.base_model,
            training_type=training_type,
            request=request,
            plan=plan_data,
            output_model="",
            created_at=now,
            queued_at=None,
            started_at=None,
            cancel_at=None,
            ended_at=None,
            code=None,
            message=None,
            events=[],
        )

    async def _insert(
        self, tenant: Tenant, req: CreateJobRequest, job: JobRow, memory: list[tuple[str, str]]
    ) -> JobRow:
        stamp = fmt_job_time(job.created_at).replace("-", "").replace(" ", "").replace(":", "")[:12]
        wanted = job.request.get("output_name")
        suffix = job.request.get("suffix")
        prefix = f"{req.model}-{suffix}-" if suffix else f"{req.model}-"

        def name(seq: int, attempt: int) -> tuple[str, str]:
            job_id = f"ft-{stamp}-{self.ids.hex('job', seq, 4 if attempt < _ID_ATTEMPTS else 6)}"
            return job_id, str(wanted) if wanted else prefix + job_id

        async with self.db.transaction() as tx:
            changed = await self._settle_in(tx, tenant.id)
            if wanted and (await store.output_taken(tx, tenant.id, wanted) or self.catalog.get(wanted) is not None):
                raise InvalidParameter(f"Model name {wanted!r} is already taken.", param="model_name")
            if not await store.insert_job(tx, job, memory, name, _ID_ATTEMPTS * 2):  # pragma: no cover
                raise UnsupportedOperation("Too many fine-tune jobs created in the same minute.")
        self._announce(tenant.id, [*changed, job])
        return job

    # ---------------------------------------------------------------- progression

    async def sync_tenant(self, tenant_id: str) -> None:
        """Apply the tenant's transitions that are due; a read when none is (one indexed query)."""
        now = self.clock.now()
        due = await store.tenant_due(self.db, tenant_id, self.policy.pending_seconds)
        if due is None or due > now:
            return
        async with self.db.transaction() as tx:
            changed = await self._settle_in(tx, tenant_id)
        self._announce(tenant_id, changed)

    async def _settle_in(self, tx: Tx, tenant_id: str) -> list[JobRow]:
        """Inside a transaction: apply what is due (rechecked, since another worker may have done it)."""
        now = self.clock.now()
        # The reader sees every commit: this transaction holds the write lock and has written nothing yet.
        due = await store.tenant_due(self.db, tenant_id, self.policy.pending_seconds)
        if due is None or due > now:
            return []
        source = _StoredQueue(tx, tenant_id, self.policy)
        moved = {t.job_id for t in await settle(source, now, self.policy)}
        return await self._save(tx, source, moved)

    async def _save(self, tx: Tx, source: _StoredQueue, job_ids: set[str]) -> list[JobRow]:
        rows = [source.take(job_id) for job_id in job_ids]
        for row in rows:
            self._settle(row)
        if rows:
            await store.save_times(tx, rows, self.policy.cancel_seconds)
        return rows

    def _settle(self, job: JobRow) -> None:
        if job.status is JobStatus.FAILED and job.code is None:
            job.code, job.message = "FineTuneFailed", str(job.plan.get("failure") or "Fine-tune failed.")

    def _announce(self, tenant_id: str, changed: Iterable[JobRow]) -> None:
        """Wake the watchers of the jobs that moved and of their tenant, nobody else."""
        keys = [job.job_id for job in changed]
        if keys:
            self.changes.notify(tenant_id, *keys)

    async def sync_all(self) -> None:
        """After a clock change: only the tenants with a transition due (an index range, not every job)."""
        due = await store.due_tenants(self.db, self.clock.now(), self.policy.pending_seconds)
        for tenant_id in due:
            await self.sync_tenant(tenant_id)

    # ---------------------------------------------------------------- reads

    async def get_job(self, tenant: Tenant, job_id: str) -> JobRow:
        """The job as of now (see ``_read``)."""
        job, _ = await self._read(tenant, job_id)
        return job.copy()  # the cached row stays as read, whatever a caller does with its copy

    async def job_view(self, tenant: Tenant, job_id: str, render: Callable[[JobRow], V]) -> V:
        """``render(job)`` of the job as of now, kept beside the cached row: while nothing moves, a repeated read
        answers the same rendering without calling ``render`` again (the status read's wire bytes).  ``render``
        is a module-level function (its identity is the key), so the renderings kept per row stay few."""
        job, entry = await self._read(tenant, job_id)
        if entry is None:
            return render(job)
        view: V | None = entry.views.get(render)
        if view is None:
            view = entry.views[render] = render(job)
        return view

    async def _read(self, tenant: Tenant, job_id: str) -> tuple[JobRow, _CachedJob | None]:
        """The job as of now, and its cache entry when the answer came from one (never to be changed).

        One statement reads the job and whether anything of its tenant fell due; the answer is kept while the
        database does not move (``VersionedCache``), so a repeated read costs one ``PRAGMA data_version``.  Only
        when something is due is the tenant settled and the job read again (that answer is not kept: settling
        committed, so the next read stores a fresh one).
        """
        version = self._reads.current()
        entry = self._reads.get(job_id)
        if entry is None or entry.tenant != tenant.id:
            job, due = await store.get_job_due(self.db, tenant.id, job_id, self.policy.pending_seconds)
            if job is None:
                raise NotFound()
            entry = _CachedJob(tenant.id, job, due)
            self._reads.put(version, job_id, entry)
        if entry.due is not None and entry.due <= self.clock.now():
            await self.sync_tenant(tenant.id)
            fresh = await store.get_job(self.db, tenant.id, job_id)
            if fresh is None:
                raise NotFound()
            return fresh, None
        return entry.job, entry

    async def find_job(self, job_id: str) -> JobRow:
        """Any tenant's job, brought up to "now": the dashboard knows job ids, not API keys."""
        probe = await store.get_job(self.db, None, job_id)
        if probe is None:
            raise NotFound()
        await self.sync_tenant(probe.tenant)
        job = await store.get_job(self.db, probe.tenant, job_id)
        if job is None:
            raise NotFound()
        return job

    async def list_jobs(self, tenant: Tenant, offset: int, limit: int, model: str | None) -> tuple[int, list[JobRow]]:
        await self.sync_tenant(tenant.id)
        return await store.list_jobs(self.db, tenant.id, offset, limit, model)

    async def job_logs(self, tenant: Tenant, job_id: str) -> tuple[JobRow, list[str]]:
        job = await self.get_job(tenant, job_id)
        return job, self.logs.visible(job, self.clock.now())

    async def find_model(self, tenant: Tenant, output_model: str) -> JobRow | None:
        """A SUCCEEDED job of this tenant whose ``finetuned_output`` (or exported checkpoint) is ``output_model``."""
        await self.sync_tenant(tenant.id)
        job = await store.succeeded_by_output(self.db, tenant.id, output_model)
        if job is None:
            job = await self._find_export(tenant, output_model)
        return job

    async def memory(self, job_id: str) -> list[tuple[str, str]]:
        return await store.memory_of(self.db, job_id)

    async def watch(
        self, job_id: str, tenant: Tenant | None = None, *, tick: float | None = None
    ) -> AsyncIterator[JobWatch]:
        """The one follow loop behind the SSE stream and the dashboard: the job now, then again each time it may
        have moved (its own transitions, its tenant's, the clock when its log moves with time) or a wait ran out.

        Ends after a final status, or with ``job=None`` when the job is gone (deleted, or never was).  ``tenant``
        None: any tenant's job (the dashboard).  ``tick``: look at least this often while the clock runs (a
        progress bar moves with time even when no log line is due).
        """
        timed_out = False
        while True:
            try:
                job = await (self.get_job(tenant, job_id) if tenant is not None else self.find_job(job_id))
            except NotFound:
                yield JobWatch(None, self.clock.now(), timed_out)
                return
            now = self.clock.now()
            yield JobWatch(job, now, timed_out)
            if job.status in TERMINAL:
                return
            keys = (job.job_id, job.tenant, CLOCK) if job.status in HOLDS_SLOT else (job.job_id, job.tenant)
            timed_out = not await self.changes.wait(self._wait_seconds(job, now, tick), keys)

    def _wait_seconds(self, job: JobRow, now: float, tick: float | None) -> float:
        """Until the job's log next changes by itself, at most a heartbeat; polled when nothing would wake it."""
        clock, settings = self.clock, self.settings
        step = settings.heartbeat_seconds
        nxt = self.logs.next_change(job, now)
        until = clock.wall_seconds_until(nxt) if nxt is not None else None
        if until is not None:
            step = min(step, max(until, 0.02))
        if job.status in (JobStatus.PENDING, JobStatus.QUEUING, JobStatus.CANCELING) and clock.time_scale > 0:
            step = min(step, 0.25)  # the queue moves on a running clock, and no timer announces it
        if tick is not None and clock.time_scale > 0:
            step = min(step, tick)
        if settings.workers > 1:
            step = min(step, 0.5)  # another worker's changes do not wake this one
        return step

    # ---------------------------------------------------------------- actions

    async def cancel_job(self, tenant: Tenant, job_id: str) -> JobRow:
        async with self.db.transaction() as tx:
            changed = await self._settle_in(tx, tenant.id)
            job = await self._job_or_404(tx, tenant.id, job_id)
            if job.status in TERMINAL:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be canceled because it has already {_finished_word(job.status)}."
                )
            if job.status is not JobStatus.CANCELING:
                changed += await self._act(tx, job, lambda t, now: cancel(t, now))
        self._announce(tenant.id, [*changed, job])
        return job

    async def _act(self, tx: Tx, job: JobRow, action: Callable[[JobTimes, float], None]) -> list[JobRow]:
        """Run one explicit transition, then let the head of the queue take a freed slot."""
        now = self.clock.now()
        times = job.times()
        try:
            action(times, now)
        except IllegalTransition as exc:
            raise UnsupportedOperation(f"Illegal transition: {exc}.") from None
        job.take(times)
        await store.save_times(tx, [job], self.policy.cancel_seconds)
        if await store.holder(tx, job.tenant) is not None:
            return [job]
        head = next(iter(await store.queued_after(tx, job.tenant, -1, 1)), None)
        if head is None:
            return [job]
        times = head.times()
        take_slot(times, now)
        head.take(times)
        await store.save_times(tx, [head], self.policy.cancel_seconds)
        return [job, head]

    async def _job_or_404(self, tx: Tx, tenant_id: str, job_id: str) -> JobRow:
        job = await store.get_job(tx, tenant_id, job_id)
        if job is None:
            raise NotFound()
        return job

    async def delete_job(self, tenant: Tenant, job_id: str) -> None:
        async with self.db.transaction() as tx:
            changed = await self._settle_in(tx, tenant.id)
            job = await self._job_or_404(tx, tenant.id, job_id)
            if job.status not in TERMINAL:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be deleted while it is {job.status}; cancel "
                    "it first or wait until it has finished."
                )
            for hook in self._before_delete:
                await hook(tx, tenant, job)
            await store.delete_job(tx, tenant.id, job_id)
        self.logs.forget(job_id)
        self._announce(tenant.id, [*changed, job])

    async def force_status(self, job_id: str, target: JobStatus, message: str | None) -> JobRow:
        """The control plane's transition: only along the table, and never two jobs holding the slot."""
        probe = await store.get_job(self.db, None, job_id)
        if probe is None:
            raise NotFound()
        async with self.db.transaction() as tx:
            changed = await self._settle_in(tx, probe.tenant)
            job = await self._job_or_404(tx, probe.tenant, job_id)
            if job.status in TERMINAL:
                raise UnsupportedOperation(f"Job {job_id} is {job.status}; a finished job cannot change status.")
            holder = await store.holder(tx, job.tenant)
            if target is JobStatus.RUNNING and holder is not None and holder.job_id != job_id:
                raise UnsupportedOperation(
                    "Another job of this tenant holds the training slot; only one runs at a time."
                )
            _record_forced(job, target, message, self.clock.now())
            changed += await self._act(tx, job, lambda t, now: force(t, target, now))
        self._announce(job.tenant, changed)
        return job

    # ---------------------------------------------------------------- housekeeping

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, None]:
        self.logs.clear()
        return await store.wipe(tx, tenant), None


def _record_forced(job: JobRow, target: JobStatus, message: str | None, now: float) -> None:
    level = "ERROR" if target is JobStatus.FAILED else "INFO"
    text = f"status changed to {target} by the emulator control plane" + (f": {message}" if message else "")
    job.events.append([now, level, text])
    if target is JobStatus.FAILED:
        job.code, job.message = "FineTuneFailed", message or "Fine-tune failed (forced through the control plane)."


def _fields(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a dict for JSON (``dataclasses.asdict`` deep-copies, a fifth of a create)."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, dict) else value
    return out


def _clean_ids(ids: Iterable[str] | None) -> list[str]:
    return [i.strip() for i in ids or () if isinstance(i, str) and i.strip()]


def _finished_word(status: JobStatus) -> str:
    return {"SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "been canceled"}.get(
        status.value, status.value.lower()
    )


def _check_kinds(
    stats: dict[str, FileStats], train_ids: list[str], val_ids: list[str], training_type: str, base: ModelInfo
) -> None:
    dpo = training_type.startswith("dpo")
    cpt = training_type == "cpt"
    for file_id in train_ids + val_ids:
        kind = stats[file_id].kind
        name = stats[file_id].name
        if kind is None:
            raise InvalidParameter(f"File {file_id} ({name}) was not uploaded as a fine-tune dataset.")
        if dpo and kind != "dpo":
            raise InvalidParameter(
                f"training_type {training_type} needs DPO rows (messages + chosen + rejected); "
                f"file {file_id} ({name}) holds {kind} rows."
            )
        if cpt and kind != "cpt":
            raise InvalidParameter(
                f'training_type cpt needs CPT rows ({{"text": ...}} per line); file {file_id} ({name}) holds '
                f"{kind} rows."
            )
        if not dpo and not cpt and kind not in _SFT_KINDS:
            use = "cpt" if kind == "cpt" else "dpo_full or dpo_lora"
            raise InvalidParameter(
                f"training_type {training_type} needs SFT rows; file {file_id} ({name}) holds {kind} rows (use {use})."
            )
        if kind == "image_sft" and not base.vision:
            raise InvalidParameter(
                f"File {file_id} ({name}) is an image SFT dataset; only vision models "
                f"(qwen-vl-*) train on images, not {base.id}."
            )


def _validate_hp(raw: dict[str, Any] | None, training_type: str, base: ModelInfo) -> EffectiveHyperParameters:
    try:
        return validate_hyper_parameters(raw, training_type=training_type, model=base)
    except HyperParameterError as exc:
        raise InvalidParameter(exc.message, param=f"hyper_parameters.{exc.key}") from None


def _plan(
    stats: dict[str, FileStats],
    train_ids: list[str],
    val_ids: list[str],
    hp: EffectiveHyperParameters,
    training_type: str,
    base: ModelInfo,
) -> TrainingPlan:
    train = _tokens(stats, train_ids)
    val = _tokens(stats, val_ids) if val_ids else None
    return plan_training(train_tokens=train, val_tokens=val, hp=hp, training_type=training_type, model=base)


def _tokens(stats: dict[str, FileStats], ids: list[str]) -> array.array[int]:
    out = array.array("I")
    for file_id in ids:
        out.extend(stats[file_id].row_tokens)
    return out
