"""Fine-tune jobs: create with validation, lazy progression on every read, cancel, delete, logs.

Status is never set by a timer: every read replays the tenant's queue up to the emulated "now"
(``states.advance``) and persists what changed, so a read always sees exactly what the clock says,
across restarts; a clock change applies what fell due at once (``sync_all``).
"""

from __future__ import annotations

import array
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from emulator.catalog import TRAINING_TYPES, Catalog, ModelInfo, load_catalog
from emulator.clock import fmt_job_time
from emulator.db import Tx
from emulator.errors import FileNotFound, InvalidParameter, ModelNotExist, NotFound, UnsupportedOperation
from emulator.files import store as file_store
from emulator.files.store import FileStats
from emulator.fine_tunes import store
from emulator.fine_tunes.hyperparams import EffectiveHyperParameters, HyperParameterError, validate_hyper_parameters
from emulator.fine_tunes.joblog import JobLogs
from emulator.fine_tunes.schemas import CreateJobRequest
from emulator.fine_tunes.states import (
    HOLDS_SLOT,
    TERMINAL,
    IllegalTransition,
    JobStatus,
    JobTimes,
    Policy,
    advance,
    cancel,
    fill_slot,
    force,
)
from emulator.fine_tunes.store import JobRow
from emulator.fine_tunes.training import TrainingPlan, plan_training
from emulator.runtime import Runtime
from emulator.tenants import Tenant

CANCEL_SECONDS = 10.0
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


class FineTunesService:
    def __init__(
        self,
        rt: Runtime,
        *,
        find_export: ExportLookup,
        before_delete: Sequence[JobDeleteHook],
        catalog: Catalog | None = None,
    ) -> None:
        self.rt = rt
        self.catalog = catalog or load_catalog()
        self.policy = Policy(pending_seconds=rt.settings.pending_seconds, cancel_seconds=CANCEL_SECONDS)
        self.logs = JobLogs(rt.ids)
        self._find_export = find_export
        self._before_delete = tuple(before_delete)

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
        supported = self.catalog.supported_methods(base.id, strict=self.rt.settings.strict)
        if training_type not in supported and self.rt.settings.strict:
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
        parent = await store.succeeded_by_output(self.rt.db, tenant.id, model)
        if parent is not None:
            base = self.catalog.get(parent.base_model)
            if base is not None:
                return base, parent
        known = ", ".join(m.id for m in self.catalog.base_models()[:6])
        raise ModelNotExist(
            f"Model not exist: {model!r} is neither a fine-tunable base model (e.g. {known}, ...) "
            "nor the finetuned_output of a succeeded fine-tune of this account.",
            param="model",
        )

    async def _dataset_stats(self, tenant: Tenant, ids: list[str]) -> dict[str, FileStats]:
        stats = await file_store.file_stats(self.rt.db, tenant.id, list(dict.fromkeys(ids)))
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
        now = self.rt.clock.now()
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
            "plan": dataclasses.asdict(plan),
            "hp": dataclasses.asdict(hp),
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
        async with self.rt.db.transaction() as tx:
            await self._sync_in(tx, tenant.id)
            for attempt in range(_ID_ATTEMPTS * 2):
                seq = await tx.next_seq("job")
                width = 4 if attempt < _ID_ATTEMPTS else 6
                job.job_id = f"ft-{stamp}-{self.rt.ids.hex('job', seq, width)}"
                job.output_model = await self._output_name(tx, tenant, req, job)
                if await store.insert_job(tx, job, memory):
                    break
            else:  # pragma: no cover - 2**24 ids a minute
                raise UnsupportedOperation("Too many fine-tune jobs created in the same minute.")
        self.rt.changes.notify()
        return job

    async def _output_name(self, tx: Tx, tenant: Tenant, req: CreateJobRequest, job: JobRow) -> str:
        wanted = job.request.get("output_name")
        if wanted:
            if await store.output_taken(tx, tenant.id, wanted) or self.catalog.get(wanted) is not None:
                raise InvalidParameter(f"Model name {wanted!r} is already taken.", param="model_name")
            return str(wanted)
        suffix = job.request.get("suffix")
        return f"{req.model}-{suffix}-{job.job_id}" if suffix else f"{req.model}-{job.job_id}"

    # ---------------------------------------------------------------- progression

    async def sync_tenant(self, tenant_id: str) -> list[JobRow]:
        """Bring the tenant's active jobs up to "now"; writes only when something changed."""
        jobs = await store.active_jobs(self.rt.db, tenant_id)
        if not jobs:
            return []
        times = [j.times() for j in jobs]
        if not advance(times, self.rt.clock.now(), self.policy):
            return jobs
        async with self.rt.db.transaction() as tx:
            jobs = await self._sync_in(tx, tenant_id)
        self.rt.changes.notify()
        return jobs

    async def _sync_in(self, tx: Tx, tenant_id: str) -> list[JobRow]:
        jobs = await store.active_jobs(tx, tenant_id)
        times = [j.times() for j in jobs]
        changed = advance(times, self.rt.clock.now(), self.policy)
        for job, t in zip(jobs, times, strict=True):
            job.take(t)
            self._settle(job)
        if changed:
            await store.save_times(tx, [j for j in jobs if j.job_id in changed])
        return jobs

    def _settle(self, job: JobRow) -> None:
        if job.status is JobStatus.FAILED and job.code is None:
            job.code, job.message = "FineTuneFailed", str(job.plan.get("failure") or "Fine-tune failed.")

    async def sync_all(self) -> None:
        for tenant_id in await store.tenants_with_active_jobs(self.rt.db):
            await self.sync_tenant(tenant_id)

    # ---------------------------------------------------------------- reads

    async def get_job(self, tenant: Tenant, job_id: str) -> JobRow:
        for job in await self.sync_tenant(tenant.id):
            if job.job_id == job_id:
                return job
        stored = await store.get_job(self.rt.db, tenant.id, job_id)
        if stored is None:
            raise NotFound()
        return stored

    async def find_job(self, job_id: str) -> JobRow:
        """Any tenant's job, brought up to "now": the dashboard knows job ids, not API keys."""
        probe = await store.get_job(self.rt.db, None, job_id)
        if probe is None:
            raise NotFound()
        for job in await self.sync_tenant(probe.tenant):
            if job.job_id == job_id:
                return job
        return probe

    async def list_jobs(self, tenant: Tenant, offset: int, limit: int, model: str | None) -> tuple[int, list[JobRow]]:
        active = {j.job_id: j for j in await self.sync_tenant(tenant.id)}
        total, jobs = await store.list_jobs(self.rt.db, tenant.id, offset, limit, model)
        return total, [active.get(j.job_id, j) for j in jobs]

    async def job_logs(self, tenant: Tenant, job_id: str) -> tuple[JobRow, list[str]]:
        job = await self.get_job(tenant, job_id)
        return job, self.logs.visible(job, self.rt.clock.now())

    async def find_model(self, tenant: Tenant, output_model: str) -> JobRow | None:
        """A SUCCEEDED job of this tenant whose ``finetuned_output`` (or exported checkpoint) is ``output_model``."""
        await self.sync_tenant(tenant.id)
        job = await store.succeeded_by_output(self.rt.db, tenant.id, output_model)
        if job is None:
            job = await self._find_export(tenant, output_model)
        return job

    async def memory(self, job_id: str) -> list[tuple[str, str]]:
        return await store.memory_of(self.rt.db, job_id)

    # ---------------------------------------------------------------- actions

    async def cancel_job(self, tenant: Tenant, job_id: str) -> JobRow:
        async with self.rt.db.transaction() as tx:
            jobs = await self._sync_in(tx, tenant.id)
            job = next((j for j in jobs if j.job_id == job_id), None) or await self._terminal_or_404(tx, tenant, job_id)
            if job.status in TERMINAL:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be canceled because it has already {_finished_word(job.status)}."
                )
            if job.status is not JobStatus.CANCELING:
                self._apply(jobs, job, lambda t, now: cancel(t, now))
                await store.save_times(tx, jobs)
        self.rt.changes.notify()
        return job

    def _apply(self, jobs: list[JobRow], job: JobRow, action: Callable[[JobTimes, float], None]) -> None:
        """Run one explicit transition over the tenant's active jobs, then let a queued job take a freed slot."""
        now = self.rt.clock.now()
        times = [j.times() for j in jobs]
        try:
            action(next(t for t in times if t.job_id == job.job_id), now)
        except IllegalTransition as exc:
            raise UnsupportedOperation(f"Illegal transition: {exc}.") from None
        fill_slot(times, now, self.policy)
        for j, t in zip(jobs, times, strict=True):
            j.take(t)

    async def _terminal_or_404(self, tx: Tx, tenant: Tenant, job_id: str) -> JobRow:
        job = await store.get_job(tx, tenant.id, job_id)
        if job is None:
            raise NotFound()
        return job

    async def delete_job(self, tenant: Tenant, job_id: str) -> None:
        async with self.rt.db.transaction() as tx:
            jobs = await self._sync_in(tx, tenant.id)
            job = next((j for j in jobs if j.job_id == job_id), None) or await self._terminal_or_404(tx, tenant, job_id)
            if job.status not in TERMINAL:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be deleted while it is {job.status}; cancel "
                    "it first or wait until it has finished."
                )
            for hook in self._before_delete:
                await hook(tx, tenant, job)
            await store.delete_job(tx, tenant.id, job_id)
        self.logs.forget(job_id)

    async def force_status(self, job_id: str, target: JobStatus, message: str | None) -> JobRow:
        """The control plane's transition: only along the table, and never two jobs holding the slot."""
        probe = await store.get_job(self.rt.db, None, job_id)
        if probe is None:
            raise NotFound()
        async with self.rt.db.transaction() as tx:
            jobs = await self._sync_in(tx, probe.tenant)
            job = next((j for j in jobs if j.job_id == job_id), None) or probe
            if job.status in TERMINAL:
                raise UnsupportedOperation(f"Job {job_id} is {job.status}; a finished job cannot change status.")
            if target is JobStatus.RUNNING and any(j.status in HOLDS_SLOT for j in jobs if j is not job):
                raise UnsupportedOperation(
                    "Another job of this tenant holds the training slot; only one runs at a time."
                )
            self._apply(jobs, job, lambda t, now: force(t, target, now))
            _record_forced(job, target, message, self.rt.clock.now())
            await store.save_times(tx, jobs)
        self.rt.changes.notify()
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
