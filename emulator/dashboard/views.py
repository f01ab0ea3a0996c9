"""What each page shows, gathered from the services: plain values for the templates, no HTTP, no SQL."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from emulator.dashboard import store
from emulator.dashboard.chart import Chart, build_chart
from emulator.dashboard.store import TenantRecord
from emulator.files.store import FileRecord
from emulator.fine_tunes import store as job_store
from emulator.fine_tunes.checkpoints import Checkpoint
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import TERMINAL, TRANSITIONS, JobStatus
from emulator.fine_tunes.store import JobRow
from emulator.runtime import Runtime
from emulator.services import Services

log = logging.getLogger("emulator.dashboard")

PAGE = 100
RECENT = 10  # jobs and deployments on the landing page
LOG_TAIL = 200
METHODS = {
    "sft": "SFT · full",
    "efficient_sft": "SFT · LoRA",
    "dpo_full": "DPO · full",
    "dpo_lora": "DPO · LoRA",
    "cpt": "CPT · full",
}


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    phase: str
    eta: float | None = None  # emulated time the job should reach its next resting point
    starts: float | None = None  # a PENDING job: when its data check is done

    @property
    def percent(self) -> float:
        return round(100.0 * self.step / self.total, 1) if self.total else 0.0


@dataclass(frozen=True)
class JobView:
    job: JobRow
    progress: Progress

    @property
    def method(self) -> str:
        return METHODS.get(self.job.training_type, self.job.training_type)

    @property
    def active(self) -> bool:
        return self.job.status not in TERMINAL


@dataclass(frozen=True)
class DeploymentView:
    name: str
    model: str
    status: str
    capacity: int | None
    ready: int | None
    updated_at: float | None


@dataclass
class TenantPage:
    tenant: TenantRecord
    files: list[FileRecord]
    files_total: int
    jobs: list[JobView]
    jobs_total: int
    deployments: list[DeploymentView] | None  # None: this build has no deployments service
    deployments_error: str | None = None
    work: list[WorkLine] = field(default_factory=list)
    """The tenant's newest async tasks and batches (issue 22), newest first."""

    @property
    def any_active(self) -> bool:
        return any(j.active for j in self.jobs)


@dataclass(frozen=True)
class WorkLine:
    """One async task or batch on the tenant page."""

    kind: str
    id: str
    model: str
    status: str
    detail: str
    created_at: float


@dataclass(frozen=True)
class RecentJob:
    view: JobView
    tenant: TenantRecord | None


@dataclass(frozen=True)
class RecentDeployment:
    view: DeploymentView
    tenant: TenantRecord | None


@dataclass
class HomePage:
    """The landing page: what just happened, across tenants, then the tenants themselves."""

    tenants: list[TenantRecord]
    jobs: list[RecentJob]
    deployments: list[RecentDeployment] | None  # None: this build has no deployments service

    @property
    def only_tenant(self) -> TenantRecord | None:
        return self.tenants[0] if len(self.tenants) == 1 else None

    @property
    def any_active(self) -> bool:
        return any(r.view.active for r in self.jobs)


@dataclass(frozen=True)
class HyperParameter:
    key: str
    sent: Any  # None: not sent, the default applies
    effective: Any


@dataclass
class JobPage:
    view: JobView
    tenant: TenantRecord | None
    lines: list[str]
    first_line: int  # index of lines[0] in the whole log
    total_lines: int
    chart: Chart
    hyper_parameters: list[HyperParameter]
    ignored: list[str]
    notes: list[str]
    targets: list[str]  # statuses the control plane may force from here
    plan: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    """The job's checkpoints, an exported one naming its model (``exports``)."""

    @property
    def exports(self) -> list[Checkpoint]:
        return [c for c in self.checkpoints if c.model_name is not None and not c.final]

    @property
    def job(self) -> JobRow:
        return self.view.job


# ---------------------------------------------------------------------------------------------------- progress


def job_progress(job: JobRow, now: float, service: FineTunesService) -> Progress:
    plan = job.plan["plan"]
    total = 0 if job.plan.get("unsupported") else int(plan["total_steps"])
    status = job.status
    if status is JobStatus.PENDING:
        return Progress(0, total, "data check", starts=job.created_at + service.policy.pending_seconds)
    if status is JobStatus.QUEUING:
        return Progress(0, total, "queued")
    if status is JobStatus.SUCCEEDED:
        return Progress(total, total, "done")
    at = {JobStatus.RUNNING: now, JobStatus.CANCELING: job.cancel_at}.get(status, job.cancel_at or job.ended_at)
    step, phase = _step_at(job, total, at)
    if status is JobStatus.RUNNING:
        return Progress(step, total, phase, eta=(job.started_at or now) + float(job.plan["duration"]))
    if status is JobStatus.CANCELING:
        return Progress(step, total, "stopping the trainer", eta=(job.cancel_at or now) + service.policy.cancel_seconds)
    return Progress(step, total, status.value.lower())


def _step_at(job: JobRow, total: int, at: float | None) -> tuple[int, str]:
    """Which optimizer step the trainer had reached at ``at``, and what it was doing."""
    if job.started_at is None or at is None:
        return 0, "not started"
    if job.plan.get("unsupported"):
        return 0, "checking the model"
    if job.plan.get("failure") and not total:
        return 0, "data check"
    plan = job.plan["plan"]
    elapsed = at - job.started_at
    startup, step_seconds = float(plan["startup_seconds"]), float(plan["step_seconds"])
    if elapsed < startup:
        return 0, "loading the model"
    if step_seconds > 0 and elapsed < startup + total * step_seconds:
        return min(total, math.floor((elapsed - startup) / step_seconds + 1e-9)), "training"
    return total, "saving the model"


# ---------------------------------------------------------------------------------------------------- pages


async def tenants(rt: Runtime) -> list[TenantRecord]:
    return await store.list_tenants(rt.db)


async def home_page(rt: Runtime, services: Services) -> HomePage:
    records = await store.list_tenants(rt.db)
    by_id = {r.id: r for r in records}
    jobs = await recent_job_rows(rt, services, by_id)
    lines = await recent_deployments(rt, services)
    deployments = None if lines is None else [RecentDeployment(_line_view(d), by_id.get(d.tenant)) for d in lines]
    return HomePage(records, jobs, deployments)


async def recent_job_rows(
    rt: Runtime, services: Services, tenants: dict[str, TenantRecord] | None = None
) -> list[RecentJob]:
    if tenants is None:
        tenants = {r.id: r for r in await store.list_tenants(rt.db)}
    return [RecentJob(view, tenants.get(view.job.tenant)) for view in await recent_jobs(rt, services)]


async def recent_jobs(rt: Runtime, services: Services) -> list[JobView]:
    """The newest jobs of any tenant, each brought up to "now" (one sync per tenant among them)."""
    service = services.fine_tunes
    newest = await store.recent_jobs(rt.db, RECENT)
    for tenant_id in dict.fromkeys(t for _, t in newest):
        await service.sync_tenant(tenant_id)  # applies what is due; the rows are then read as stored
    now = rt.clock.now()
    views: list[JobView] = []
    for job_id, _ in newest:
        job = await job_store.get_job(rt.db, None, job_id)
        if job is not None:
            views.append(JobView(job, job_progress(job, now, service)))
    return views


async def recent_deployments(rt: Runtime, services: Services) -> list[store.DeploymentLine] | None:
    for tenant_id in await store.recent_deployment_tenants(rt.db, RECENT):
        await services.deployments.sync_tenant(tenant_id)
    return await store.recent_deployments(rt.db, RECENT)


def _line_view(line: store.DeploymentLine) -> DeploymentView:
    return DeploymentView(line.name, line.model, line.status, line.capacity, line.ready, line.updated_at)


async def tenant(rt: Runtime, tenant_id: str) -> TenantRecord | None:
    return await store.get_tenant(rt.db, tenant_id)


async def jobs_of(rt: Runtime, services: Services, record: TenantRecord) -> tuple[int, list[JobView]]:
    service = services.fine_tunes
    total, jobs = await service.list_jobs(record.as_tenant(), 0, PAGE, None)
    now = rt.clock.now()
    return total, [JobView(j, job_progress(j, now, service)) for j in jobs]


async def tenant_page(rt: Runtime, services: Services, record: TenantRecord) -> TenantPage:
    files_total, files = await services.files.list_files(record.as_tenant(), 0, PAGE)
    jobs_total, jobs = await jobs_of(rt, services, record)
    deployments, error = await _deployments(rt, services, record)
    work = await work_of(rt, services, record)
    return TenantPage(record, files, files_total, jobs, jobs_total, deployments, error, work)


async def work_of(rt: Runtime, services: Services, record: TenantRecord) -> list[WorkLine]:
    """The newest async tasks (the last day) and batches of a tenant, brought up to "now"."""
    tenant = record.as_tenant()
    now = rt.clock.now()
    lines: list[WorkLine] = []
    tasks = services.tasks
    for task in (await tasks.list_tasks(tenant, now - 86400, now, None, None, None))[:PAGE]:
        status = tasks.status(task).value
        lines.append(WorkLine("task", task.task_id, task.model, status, f"{task.lines} lines", task.created_at))
    batches = services.batches
    rows, _ = await batches.list_batches(tenant, None, PAGE, lambda _: True)
    for row in rows:
        ran = row.finalized and row.valid  # a batch its checks refused is finalized too, with no request run
        counts = f"{row.ok}/{row.total} done, {row.failed} failed" if ran else f"{row.total} requests"
        status = batches.status(row).value
        lines.append(WorkLine("batch", row.batch_id, row.model or row.endpoint, status, counts, row.created_at))
    return sorted(lines, key=lambda w: -w.created_at)


async def job_page(rt: Runtime, services: Services, job_id: str, *, full_log: bool = False) -> JobPage:
    service = services.fine_tunes
    job = await service.find_job(job_id)
    now = rt.clock.now()
    lines = service.logs.visible(job, now)
    first = 0 if full_log else max(0, len(lines) - LOG_TAIL)
    plan = job.plan["plan"]
    hp = job.plan["hp"]
    sent = job.request.get("hyper_parameters") or {}
    tenant = await store.get_tenant(rt.db, job.tenant)
    checkpoints = [] if tenant is None else await _checkpoints(services, tenant, job_id)
    return JobPage(
        view=JobView(job, job_progress(job, now, service)),
        tenant=tenant,
        lines=lines[first:],
        first_line=first,
        total_lines=len(lines),
        chart=build_chart(service.logs.metrics(job, now), int(plan["total_steps"]), int(plan["steps_per_epoch"])),
        hyper_parameters=_hyper_parameters(sent, hp["values"]),
        ignored=list(hp.get("ignored", ())),
        notes=list(hp.get("notes", ())),
        targets=sorted(t.value for t in TRANSITIONS[job.status]),
        plan=plan,
        checkpoints=checkpoints,
    )


async def _checkpoints(services: Services, tenant: TenantRecord, job_id: str) -> list[Checkpoint]:
    """The job's checkpoints as the checkpoints API lists them; the page degrades (none) when that fails."""
    try:
        return list(await services.checkpoints.list_checkpoints(tenant.as_tenant(), job_id))
    except Exception as exc:  # the job page must keep working whatever that service does
        log.warning("dashboard: listing checkpoints failed: %s", exc)
        return []


def _hyper_parameters(sent: dict[str, Any], effective: dict[str, Any]) -> list[HyperParameter]:
    rows = [HyperParameter(key, sent.get(key), value) for key, value in effective.items()]
    rows += [HyperParameter(key, value, None) for key, value in sent.items() if key not in effective]
    return rows


# ---------------------------------------------------------------------------------------------------- deployments


async def _deployments(
    rt: Runtime, services: Services, record: TenantRecord
) -> tuple[list[DeploymentView] | None, str | None]:
    """Deployments come from their own service; the page degrades (with a note) when it fails."""
    try:
        found = await services.deployments.list_deployments(record.as_tenant(), 0, PAGE)
    except Exception as exc:  # the dashboard must keep working whatever that service does
        log.warning("dashboard: listing deployments failed: %s", exc)
        return [], f"The deployments service answered: {exc}"
    rows = found[1] if isinstance(found, tuple) else found
    return [_deployment_view(row) for row in rows], None


def _field(row: Any, *names: str) -> Any:
    for name in names:
        value = row.get(name) if isinstance(row, dict) else getattr(row, name, None)
        if value is not None:
            return value
    return None


def _deployment_view(row: Any) -> DeploymentView:
    status = _field(row, "status")
    changed = _field(row, "modified_at", "created_at")
    return DeploymentView(
        name=str(_field(row, "deployed_model", "name") or "?"),
        model=str(_field(row, "model_name", "model") or ""),
        status=str(getattr(status, "value", status) or "?"),
        capacity=_field(row, "capacity"),
        ready=_field(row, "ready_capacity", "ready"),
        updated_at=float(changed) if isinstance(changed, int | float) else None,
    )
