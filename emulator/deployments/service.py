"""Deployments: create with validation, lazy progression on every read, scale, delete, and what generation serves.

As with fine-tunes, nothing runs on a timer: every read derives the status from the stored schedule and the
emulated clock (``states.advance``) and persists what changed; a deployment whose DELETING time is over is
removed by the read that notices it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from emulator.catalog import Catalog, is_lora, load_catalog, model_hint
from emulator.changes import Signal
from emulator.clock import Clock
from emulator.db import Database, Tx
from emulator.deployments import store
from emulator.deployments.schemas import CreateDeploymentRequest
from emulator.deployments.states import (
    CALLABLE,
    SCALABLE,
    DeploymentStatus,
    IllegalTransition,
    Policy,
    Schedule,
    advance,
    delete,
    force,
    next_change,
    scale,
)
from emulator.deployments.store import DeploymentRow, Options
from emulator.errors import Conflict, InvalidParameter, ModelNotExist, NotFound, UnsupportedOperation
from emulator.fine_tunes import store as job_store
from emulator.fine_tunes.exports import ExportLedger
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.store import JobRow
from emulator.ids import Ids
from emulator.synth.text import Memory
from emulator.tenants import Tenant

PLANS = ("lora", "mu", "ptu")
CHARGE_TYPE = "post_paid"
MODELS_BASE_CAPACITY = 1
_SUFFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,7}$")
_SPEC_RE = re.compile(r"^(MU\d{1,3}(-PD)?|dps-[0-9A-Za-z-]{1,64})$")
BILLING_METHODS = ("POST_PAY",)


@dataclass(frozen=True)
class Source:
    """What a deployment serves: its base model, and the fine-tune behind it (None for a base model)."""

    base_model: str
    job_id: str | None
    training_type: str | None


@dataclass(frozen=True)
class Deployable:
    name: str
    plans: tuple[str, ...]


@dataclass(frozen=True)
class Served:
    """What generation needs to answer as a deployed model."""

    deployed_model: str
    base_model: str
    memory: Memory


def deployment_key(deployed_model: str) -> str:
    """The change signal's key for one deployment (its stream waits on it)."""
    return f"deployment:{deployed_model}"


def not_found(deployed_model: str) -> NotFound:
    return NotFound(f"Model: {deployed_model} not found!")


class DeploymentHold:
    """A fine-tunes delete hook: a deployed model's job stays, unless the deployment is already DELETING (a test
    suite's natural clean-up order: deployment, then job).  Built before both services (it needs neither)."""

    def __init__(self, clock: Clock, policy: Policy) -> None:
        self.clock = clock
        self.policy = policy

    async def __call__(self, tx: Tx, tenant: Tenant, job: JobRow, /) -> None:
        now = self.clock.now()
        for row in await store.of_job(tx, tenant.id, job.job_id):
            view = advance(row.schedule, now, self.policy)
            if not view.gone and view.status is not DeploymentStatus.DELETING:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be deleted: its model {job.output_model} is "
                    f"deployed as {row.deployed_model} ({view.status}); delete the deployment "
                    "first."
                )


class DeploymentsService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: Ids,
        changes: Signal,
        fine_tunes: FineTunesService,
        exports: ExportLedger,
        *,
        max_capacity: int,
        catalog: Catalog | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.changes = changes
        self.max_capacity = max_capacity
        """``--max-deployment-capacity``."""
        self.catalog = catalog or load_catalog()
        self.policy = policy or Policy()
        self._memory: dict[int, Memory] = {}
        self._fine_tunes = fine_tunes
        self._exports = exports

    # ---------------------------------------------------------------- create

    async def create_deployment(self, tenant: Tenant, req: CreateDeploymentRequest) -> DeploymentRow:
        capacity = self._capacity(req.capacity)
        suffix = _suffix(req.suffix)
        source = await self._source(tenant, req.model_name)
        plan = self._plan(req.plan, source)
        options = _options(req, plan, suffix)
        memory = await self._fine_tunes.memory(source.job_id) if source.job_id else []
        now = self.clock.now()
        row = DeploymentRow(
            seq=0,
            deployed_model="",
            tenant=tenant.id,
            model_name=req.model_name,
            base_model=source.base_model,
            job_id=source.job_id,
            plan=plan,
            status=DeploymentStatus.PENDING,
            base_capacity=capacity,
            ready_capacity=0,
            charge_type=CHARGE_TYPE,
            creator=tenant.account_id,
            workspace_id=tenant.workspace,
            modified_at=now,
            schedule=Schedule.new(now, capacity, self.policy),
            options=options,
        )
        async with self.db.transaction() as tx:
            if source.job_id is not None and await job_store.get_job(tx, tenant.id, source.job_id) is None:
                raise ModelNotExist(  # the job was deleted since it was read: decided inside the transaction
                    f"Model not exist: {req.model_name!r}: its fine-tune job was deleted.", param="model_name"
                )
            row.deployed_model = await self._name(tx, req.model_name, suffix, fine_tuned=source.job_id is not None)
            await self._check_unique(tx, tenant, row, suffix)
            await store.insert_deployment(tx, row, memory)
        self._announce(row)
        return row

    async def _check_unique(self, tx: Tx, tenant: Tenant, row: DeploymentRow, suffix: str | None) -> None:
        """One deployment per model and suffix (or none: the 2026 docs' 409), and never two of one name."""
        for other in await store.of_model_suffix(tx, tenant.id, row.model_name, suffix):
            if await self._apply(tx, other) is not None:
                raise Conflict(
                    f"Deployed model {row.model_name} already exists, please specify a suffix."
                    if suffix is None
                    else f"Deployed model {row.model_name} with suffix {suffix} already exists; suffixes must be "
                    "unique.",
                    param="suffix",
                )
        existing = await store.get_deployment(tx, tenant.id, row.deployed_model)
        if existing is not None and (existing := await self._apply(tx, existing)) is not None:
            raise Conflict(
                f"Deployment {row.deployed_model} already exists ({existing.status}); delete it "
                "first, or deploy under another suffix."
            )

    def _capacity(self, raw: int | None) -> int:
        limit = self.max_capacity
        if raw is None:
            return 1
        if not 1 <= raw <= limit:
            raise InvalidParameter(f"capacity must be an integer between 1 and {limit} (got {raw}).", param="capacity")
        return raw

    async def _source(self, tenant: Tenant, model_name: str) -> Source:
        """The base model and the fine-tune job behind ``model_name``."""
        info = self.catalog.get(model_name)
        if info is not None:
            if not info.deployable:
                raise InvalidParameter(
                    f"Model {model_name} cannot be deployed; deployable base models: "
                    f"{model_hint(self.catalog, deployable=True)}, ...",
                    param="model_name",
                )
            return Source(info.id, None, None)
        job = await self._fine_tunes.find_model(tenant, model_name)
        if job is None:
            raise ModelNotExist(
                f"Model not exist: {model_name!r} is neither the finetuned_output of a succeeded "
                "fine-tune of this account nor a deployable base model.",
                param="model_name",
            )
        return Source(str(job.base_model), str(job.job_id), str(job.training_type))

    def _plan(self, raw: str | None, source: Source) -> str:
        """Optional (1.20.11 sends none): ``lora`` where a token-billed LoRA deployment exists, else ``mu``."""
        lora = self._lora_allowed(source)
        if raw is None or not raw.strip():
            return "lora" if lora else "mu"
        plan = raw.strip().lower()
        if plan not in PLANS:
            raise InvalidParameter(f"plan must be one of {', '.join(PLANS)} (got {raw!r}).", param="plan")
        if plan == "lora" and not lora:
            raise InvalidParameter(_lora_refusal(source), param="plan")
        return plan

    def _lora_allowed(self, source: Source) -> bool:
        """Seed-era models: any fine-tune (as before 2026).  Models of the 2026 matrix: only LoRA-trained
        outputs of the bases the model-deployment doc lists for ``plan: lora``."""
        if source.job_id is None:
            return False
        base = self.catalog.get(source.base_model)
        if base is None or base.matrix != "2026":
            return True
        return base.lora_deployable and is_lora(source.training_type or "")

    def _deployable(self) -> list[str]:
        return [m.id for m in self.catalog.models() if m.deployable]

    async def _name(self, tx: Tx, model_name: str, suffix: str | None, *, fine_tuned: bool) -> str:
        """A fine-tuned model deploys under its own name (the seed); a base model gets a random part, as the
        docs' ``emo-35b3f106-sample01``, so the deployment never shadows the shared model of that name."""
        if not fine_tuned:
            model_name = f"{model_name}-{self.ids.hex('deployment', await tx.next_seq('deployment'), 8)}"
        return f"{model_name}-{suffix}" if suffix else model_name

    # ---------------------------------------------------------------- progression

    async def _apply(self, tx: Tx, row: DeploymentRow) -> DeploymentRow | None:
        """Bring one row up to "now" inside a transaction; None (and the row removed) once it is gone."""
        view = advance(row.schedule, self.clock.now(), self.policy)
        if view.gone:
            await store.delete_deployment(tx, row)
            self._memory.pop(row.seq, None)
            return None
        if view != row.view():
            row.take(view)
            await store.save_deployment(tx, row)
        return row

    async def _refresh(self, row: DeploymentRow) -> DeploymentRow | None:
        if advance(row.schedule, self.clock.now(), self.policy) == row.view():
            return row
        async with self.db.transaction() as tx:
            fresh = await store.get_deployment(tx, row.tenant, row.deployed_model)
            fresh = None if fresh is None else await self._apply(tx, fresh)
        self._announce(row)
        return fresh

    async def sync_tenant(self, tenant_id: str) -> None:
        now = self.clock.now()
        rows = await store.unsettled(self.db, tenant_id)
        if all(advance(r.schedule, now, self.policy) == r.view() for r in rows):
            return
        async with self.db.transaction() as tx:
            moved = await store.unsettled(tx, tenant_id)
            for row in moved:
                await self._apply(tx, row)
        self._announce(*moved)

    def _announce(self, *rows: DeploymentRow) -> None:
        """Wake the watchers of these deployments and of their tenants, nobody else."""
        keys = {key for row in rows for key in (row.tenant, deployment_key(row.deployed_model))}
        if keys:
            self.changes.notify(*keys)

    async def sync_all(self) -> None:
        for tenant_id in await store.tenants_with_unsettled(self.db):
            await self.sync_tenant(tenant_id)

    # ---------------------------------------------------------------- reads

    async def get_deployment(self, tenant: Tenant, deployed_model: str) -> DeploymentRow:
        row = await store.get_deployment(self.db, tenant.id, deployed_model)
        row = None if row is None else await self._refresh(row)
        if row is None:
            raise not_found(deployed_model)
        await store.options_of(self.db, [row])
        return row

    async def peek(self, tenant: Tenant, deployed_model: str) -> tuple[DeploymentRow | None, float | None]:
        """The deployment as of now (None once gone) and the next emulated moment it changes by itself."""
        row = await store.get_deployment(self.db, tenant.id, deployed_model)
        row = None if row is None else await self._refresh(row)
        if row is None:
            return None, None
        return row, next_change(row.schedule, self.clock.now(), self.policy)

    async def list_deployments(self, tenant: Tenant, offset: int, limit: int) -> tuple[int, list[DeploymentRow]]:
        await self.sync_tenant(tenant.id)
        total, rows = await store.list_deployments(self.db, tenant.id, offset, limit)
        await store.options_of(self.db, rows)
        return total, rows

    async def deployable_models(
        self, tenant: Tenant, source: str, offset: int = 0, limit: int = 1 << 30
    ) -> tuple[int, list[tuple[str, int]]]:
        """``base``: the catalog's deployable models; ``custom``: this tenant's succeeded fine-tunes."""
        total, shown = await self.deployable_sources(tenant, source, offset, limit)
        return total, [(s.name, MODELS_BASE_CAPACITY) for s in shown]

    async def deployable_sources(
        self, tenant: Tenant, source: str, offset: int = 0, limit: int = 1 << 30
    ) -> tuple[int, list[Deployable]]:
        """One page of the models ``/deployments/models`` lists, with the plans each can be deployed under, and
        how many there are.  ``custom``: the succeeded fine-tunes newest first (a page read through the index,
        not every job of the tenant), then the exported checkpoints."""
        if source == "base":
            models = [m for m in self.catalog.models() if m.deployable]
            page = [Deployable(m.id, self._plans(Source(m.id, None, None))) for m in models[offset : offset + limit]]
            return len(models), page
        await self._fine_tunes.sync_tenant(tenant.id)
        succeeded, jobs = await job_store.succeeded_page(self.db, tenant.id, offset, limit)
        outputs = [(j.output_model, j) for j in jobs]
        exported = await self._exports.exported_models(tenant)
        start = max(offset - succeeded, 0)
        outputs += exported[start : start + limit - len(outputs)]
        shown = [Deployable(name, self._plans(Source(j.base_model, j.job_id, j.training_type))) for name, j in outputs]
        return succeeded + len(exported), shown

    def _plans(self, source: Source) -> tuple[str, ...]:
        if source.job_id is None:
            base = self.catalog.get(source.base_model)
            return ("mu", "lora") if base is not None and base.lora_deployable else ("mu",)
        return ("mu", "lora") if self._lora_allowed(source) else ("mu",)

    async def serve(self, tenant: Tenant, deployed_model: str) -> Served | None:
        """The deployment generation answers as; None when there is none; an error while it is not RUNNING."""
        row = await store.get_deployment(self.db, tenant.id, deployed_model)
        row = None if row is None else await self._refresh(row)
        if row is None:
            return None
        if row.status not in CALLABLE:
            raise InvalidParameter(
                f"Model {deployed_model} is not ready: its deployment is {row.status}; it can be "
                "called once the deployment is RUNNING.",
                param="model",
            )
        return Served(row.deployed_model, row.base_model, await self._memory_for(row))

    async def _memory_for(self, row: DeploymentRow) -> Memory:
        if row.job_id is None:
            return Memory()
        memory = self._memory.get(row.seq)
        if memory is None:
            memory = self._memory[row.seq] = Memory.of(await store.memory_of(self.db, row.seq))
        return memory

    # ---------------------------------------------------------------- actions

    async def scale_deployment(self, tenant: Tenant, deployed_model: str, capacity: int | None) -> DeploymentRow:
        if capacity is None:
            raise InvalidParameter("capacity is required.", param="capacity")
        target = self._capacity(capacity)

        def act(row: DeploymentRow, now: float) -> None:
            if row.status not in SCALABLE:
                raise UnsupportedOperation(
                    f"Deployment {deployed_model} is {row.status}; it can be scaled once it is RUNNING."
                )
            scale(row.schedule, row.status, target, now, self.policy)

        return await self._act(tenant.id, deployed_model, act)

    async def delete_deployment(self, tenant: Tenant, deployed_model: str) -> DeploymentRow:
        return await self._act(tenant.id, deployed_model, lambda row, now: delete(row.schedule, row.status, now))

    async def force_status(
        self, deployed_model: str, target: DeploymentStatus, message: str | None, tenant_id: str | None
    ) -> DeploymentRow:
        rows = [r for r in await store.find_by_name(self.db, deployed_model) if tenant_id in (None, r.tenant)]
        if not rows:
            raise not_found(deployed_model)
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} tenants have a deployment named {deployed_model}; pass api_key or tenant.")

        def act(row: DeploymentRow, now: float) -> None:
            force(row.schedule, row.status, target, now, self.policy)
            if target is DeploymentStatus.FAILED:
                row.message = message or "Deployment failed (forced through the emulator control plane)."

        return await self._act(rows[0].tenant, deployed_model, act)

    async def _act(
        self, tenant_id: str, deployed_model: str, action: Callable[[DeploymentRow, float], None]
    ) -> DeploymentRow:
        async with self.db.transaction() as tx:
            row = await store.get_deployment(tx, tenant_id, deployed_model)
            row = None if row is None else await self._apply(tx, row)
            if row is not None:  # a gone row's removal commits even though the answer is 404
                now = self.clock.now()
                try:
                    action(row, now)
                except IllegalTransition as exc:
                    raise UnsupportedOperation(f"Illegal transition: {exc}.") from None
                row.take(advance(row.schedule, now, self.policy))
                await store.save_deployment(tx, row)
        if row is None:
            raise not_found(deployed_model)
        self._announce(row)
        return row

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None]]:
        return await store.wipe(tx, tenant), self._memory.clear


def _suffix(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _SUFFIX_RE.match(raw):
        raise InvalidParameter(
            f"suffix must be 1-8 lower-case letters, digits, '-' or '_' (got {raw!r}).", param="suffix"
        )
    return raw


def _lora_refusal(source: Source) -> str:
    if source.job_id is None:
        return "plan lora serves a fine-tuned (LoRA) model; deploy a base model with plan mu or ptu."
    return (
        f"plan lora (token-billed LoRA deployment) serves only efficient_sft/dpo_lora outputs of the models the "
        f"deployment docs list; this is a {source.training_type} fine-tune of {source.base_model}: use plan mu."
    )


def _options(req: CreateDeploymentRequest, plan: str, suffix: str | None) -> Options:
    """The 2026 fields: ``deploy_spec`` and ``billing_method`` are required when plan mu is asked for explicitly."""
    spec, billing = req.deploy_spec, req.billing_method
    explicit_mu = (req.plan or "").strip().lower() == "mu"
    if explicit_mu and (spec is None or spec == "" or spec == {}):
        raise InvalidParameter(_missing("deploy_spec"), param="deploy_spec")
    if explicit_mu and not billing:
        raise InvalidParameter(_missing("billing_method"), param="billing_method")
    if isinstance(spec, str) and spec and not _SPEC_RE.match(spec):
        raise InvalidParameter(
            f"deploy_spec must be a model unit spec such as MU1 (or a dps-... id); got {spec!r}.", param="deploy_spec"
        )
    if billing is not None and billing.strip().upper() not in BILLING_METHODS:
        raise InvalidParameter(
            f"billing_method must be {', '.join(BILLING_METHODS)} (got {billing!r}).", param="billing_method"
        )
    if plan != "mu":
        return Options(suffix=suffix)
    return Options(suffix, spec or None, billing.strip().upper() if billing else None)


def _missing(name: str) -> str:
    return f"Required parameter({name}) missing or invalid, please check the request parameters."
