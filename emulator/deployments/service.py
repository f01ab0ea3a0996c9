"""Deployments: create with validation, lazy progression on every read, scale, delete, and what generation serves.

As with fine-tunes, nothing runs on a timer: every read derives the status from the stored schedule and the
emulated clock (``states.advance``) and persists what changed; a deployment whose DELETING time is over is
removed by the read that notices it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.catalog import Catalog, load_catalog
from emulator.db import Tx
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
    scale,
)
from emulator.deployments.store import DeploymentRow
from emulator.errors import Conflict, InvalidParameter, ModelNotExist, NotFound, UnsupportedOperation
from emulator.fine_tunes import store as job_store
from emulator.fine_tunes.states import JobStatus
from emulator.runtime import Runtime
from emulator.synth.text import Memory
from emulator.tenants import Tenant

PLANS = ("lora", "mu", "ptu")
CHARGE_TYPE = "post_paid"
MODELS_BASE_CAPACITY = 1
_SUFFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,7}$")


@dataclass(frozen=True)
class Served:
    """What generation needs to answer as a deployed model."""

    deployed_model: str
    base_model: str
    memory: Memory


def not_found(deployed_model: str) -> NotFound:
    return NotFound(f"Model: {deployed_model} not found!")


class DeploymentsService:
    def __init__(self, rt: Runtime, catalog: Catalog | None = None, policy: Policy | None = None) -> None:
        self.rt = rt
        self.catalog = catalog or load_catalog()
        self.policy = policy or Policy()
        self._memory: dict[int, Memory] = {}

    @property
    def _fine_tunes(self) -> Any:
        return self.rt.services["fine_tunes"]

    # ---------------------------------------------------------------- create

    async def create_deployment(self, tenant: Tenant, req: CreateDeploymentRequest) -> DeploymentRow:
        capacity = self._capacity(req.capacity)
        suffix = _suffix(req.suffix)
        base_model, job_id = await self._source(tenant, req.model_name)
        plan = _plan(req.plan, fine_tuned=job_id is not None)
        memory = await self._fine_tunes.memory(job_id) if job_id else []
        now = self.rt.clock.now()
        row = DeploymentRow(
            seq=0,
            deployed_model="",
            tenant=tenant.id,
            model_name=req.model_name,
            base_model=base_model,
            job_id=job_id,
            plan=plan,
            status=DeploymentStatus.PENDING,
            base_capacity=capacity,
            ready_capacity=0,
            charge_type=CHARGE_TYPE,
            creator=tenant.account_id,
            workspace_id=tenant.workspace,
            modified_at=now,
            schedule=Schedule.new(now, capacity, self.policy),
        )
        async with self.rt.db.transaction() as tx:
            row.deployed_model = await self._name(tx, req.model_name, suffix, fine_tuned=job_id is not None)
            existing = await store.get_deployment(tx, tenant.id, row.deployed_model)
            if existing is not None and (existing := await self._apply(tx, existing)) is not None:
                raise Conflict(
                    f"Deployment {row.deployed_model} already exists ({existing.status}); delete it "
                    "first, or deploy under another suffix."
                )
            await store.insert_deployment(tx, row, memory)
        self.rt.changes.notify()
        return row

    def _capacity(self, raw: int | None) -> int:
        limit = self.rt.settings.max_deployment_capacity
        if raw is None:
            return 1
        if not 1 <= raw <= limit:
            raise InvalidParameter(f"capacity must be an integer between 1 and {limit} (got {raw}).", param="capacity")
        return raw

    async def _source(self, tenant: Tenant, model_name: str) -> tuple[str, str | None]:
        """The base model and the fine-tune job behind ``model_name``."""
        info = self.catalog.get(model_name)
        if info is not None:
            if not info.deployable:
                raise InvalidParameter(
                    f"Model {model_name} cannot be deployed; deployable base models: "
                    f"{', '.join(self._deployable()[:6])}, ...",
                    param="model_name",
                )
            return info.id, None
        job = await self._fine_tunes.find_model(tenant, model_name)
        if job is None:
            raise ModelNotExist(
                f"Model not exist: {model_name!r} is neither the finetuned_output of a succeeded "
                "fine-tune of this account nor a deployable base model.",
                param="model_name",
            )
        return str(job.base_model), str(job.job_id)

    def _deployable(self) -> list[str]:
        return [m.id for m in self.catalog.models() if m.deployable]

    async def _name(self, tx: Tx, model_name: str, suffix: str | None, *, fine_tuned: bool) -> str:
        """A fine-tuned model deploys under its own name (the seed); a base model gets a random part, as the
        docs' ``emo-35b3f106-sample01``, so the deployment never shadows the shared model of that name."""
        if not fine_tuned:
            model_name = f"{model_name}-{self.rt.ids.hex('deployment', await tx.next_seq('deployment'), 8)}"
        return f"{model_name}-{suffix}" if suffix else model_name

    # ---------------------------------------------------------------- progression

    async def _apply(self, tx: Tx, row: DeploymentRow) -> DeploymentRow | None:
        """Bring one row up to "now" inside a transaction; None (and the row removed) once it is gone."""
        view = advance(row.schedule, self.rt.clock.now(), self.policy)
        if view.gone:
            await store.delete_deployment(tx, row)
            self._memory.pop(row.seq, None)
            return None
        if view != row.view():
            row.take(view)
            await store.save_deployment(tx, row)
        return row

    async def _refresh(self, row: DeploymentRow) -> DeploymentRow | None:
        if advance(row.schedule, self.rt.clock.now(), self.policy) == row.view():
            return row
        async with self.rt.db.transaction() as tx:
            fresh = await store.get_deployment(tx, row.tenant, row.deployed_model)
            fresh = None if fresh is None else await self._apply(tx, fresh)
        self.rt.changes.notify()
        return fresh

    async def sync_tenant(self, tenant_id: str) -> None:
        now = self.rt.clock.now()
        rows = await store.unsettled(self.rt.db, tenant_id)
        if all(advance(r.schedule, now, self.policy) == r.view() for r in rows):
            return
        async with self.rt.db.transaction() as tx:
            for row in await store.unsettled(tx, tenant_id):
                await self._apply(tx, row)
        self.rt.changes.notify()

    async def sync_all(self) -> None:
        for tenant_id in await store.tenants_with_unsettled(self.rt.db):
            await self.sync_tenant(tenant_id)

    # ---------------------------------------------------------------- reads

    async def get_deployment(self, tenant: Tenant, deployed_model: str) -> DeploymentRow:
        row = await store.get_deployment(self.rt.db, tenant.id, deployed_model)
        row = None if row is None else await self._refresh(row)
        if row is None:
            raise not_found(deployed_model)
        return row

    async def list_deployments(self, tenant: Tenant, offset: int, limit: int) -> tuple[int, list[DeploymentRow]]:
        await self.sync_tenant(tenant.id)
        return await store.list_deployments(self.rt.db, tenant.id, offset, limit)

    async def deployable_models(self, tenant: Tenant, source: str) -> list[tuple[str, int]]:
        """``base``: the catalog's deployable models; ``custom``: this tenant's succeeded fine-tunes."""
        if source == "base":
            return [(name, MODELS_BASE_CAPACITY) for name in self._deployable()]
        await self._fine_tunes.sync_tenant(tenant.id)
        _, jobs = await job_store.list_jobs(self.rt.db, tenant.id, 0, 1 << 30)
        return [(j.output_model, MODELS_BASE_CAPACITY) for j in jobs if j.status is JobStatus.SUCCEEDED]

    async def serve(self, tenant: Tenant, deployed_model: str) -> Served | None:
        """The deployment generation answers as; None when there is none; an error while it is not RUNNING."""
        row = await store.get_deployment(self.rt.db, tenant.id, deployed_model)
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
            memory = self._memory[row.seq] = Memory.of(await store.memory_of(self.rt.db, row.seq))
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
        rows = [r for r in await store.find_by_name(self.rt.db, deployed_model) if tenant_id in (None, r.tenant)]
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
        async with self.rt.db.transaction() as tx:
            row = await store.get_deployment(tx, tenant_id, deployed_model)
            row = None if row is None else await self._apply(tx, row)
            if row is not None:  # a gone row's removal commits even though the answer is 404
                now = self.rt.clock.now()
                try:
                    action(row, now)
                except IllegalTransition as exc:
                    raise UnsupportedOperation(f"Illegal transition: {exc}.") from None
                row.take(advance(row.schedule, now, self.policy))
                await store.save_deployment(tx, row)
        if row is None:
            raise not_found(deployed_model)
        self.rt.changes.notify()
        return row

    # ---------------------------------------------------------------- hooks

    async def guard_job_delete(self, tx: Tx, tenant: Tenant, job: Any) -> None:
        """Installed as the fine-tunes service's ``deployed_guard``: a deployed model's job stays."""
        now = self.rt.clock.now()
        for row in await store.of_job(tx, tenant.id, job.job_id):
            view = advance(row.schedule, now, self.policy)
            if not view.gone:
                raise UnsupportedOperation(
                    f"The fine-tuning job cannot be deleted: its model {job.output_model} is "
                    f"deployed as {row.deployed_model} ({view.status}); delete the deployment "
                    "first."
                )

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


def _plan(raw: str | None, *, fine_tuned: bool) -> str:
    """Optional here (the 2.0.2 CLI requires it): ``lora`` for a fine-tuned model, ``mu`` for a base model."""
    if raw is None or not raw.strip():
        return "lora" if fine_tuned else "mu"
    plan = raw.strip().lower()
    if plan not in PLANS:
        raise InvalidParameter(f"plan must be one of {', '.join(PLANS)} (got {raw!r}).", param="plan")
    if plan == "lora" and not fine_tuned:
        raise InvalidParameter(
            "plan lora serves a fine-tuned (LoRA) model; deploy a base model with plan mu or ptu.", param="plan"
        )
    return plan
