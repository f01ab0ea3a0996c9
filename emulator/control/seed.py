"""Load a ready world (``fixtures/world.json``) through the services, so every validation and state rule applies.

A world lists tenants (API keys); each has files (paths relative to the world file), fine-tune jobs with the
status they should end in, and deployments of base models or of its succeeded jobs (``"@<job name>"``).
Statuses are reached the way they would be in use: SUCCEEDED jobs and RUNNING deployments by moving the
clock, CANCELED by a cancel, the rest along legal transitions of the control plane (``force_status``).
The phases run across all tenants in an order that keeps every reached status where it was put:

    files ─▶ SUCCEEDED jobs (clock) ─▶ deployments ─▶ FAILED, CANCELED ─▶ RUNNING, CANCELING ─▶ QUEUING ─▶ PENDING

``dashscope-emulator seed fixtures/world.json --db ...`` runs it on a database offline, with a frozen clock;
``POST /_emulator/seed`` on a running server (both through ``control.service.seed``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from emulator.deployments.schemas import CreateDeploymentRequest
from emulator.deployments.states import DeploymentStatus
from emulator.files.upload import stage_copy
from emulator.fine_tunes.schemas import CreateJobRequest
from emulator.fine_tunes.states import JobStatus
from emulator.http import strict_json
from emulator.runtime import Runtime
from emulator.services import Services
from emulator.tenants import Tenant
from emulator.wire import WireModel

_STEP_SECONDS = 60.0
_MAX_SECONDS = 7 * 86400.0


class FileSpec(WireModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="How jobs of this world refer to the file.")
    path: str = Field(description="Relative to the world file.")
    description: str = ""
    purpose: str = "fine-tune"


class JobSpec(WireModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: str = "qwen-turbo"
    training_files: list[str] = Field(min_length=1, description="File names of this tenant.")
    validation_files: list[str] = []
    training_type: str | None = None
    hyper_parameters: dict[str, Any] | None = None
    suffix: str | None = None
    status: JobStatus = JobStatus.SUCCEEDED
    message: str | None = Field(None, description="The FAILED message.")


class DeploymentSpec(WireModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="A deployable base model, or '@<job name>' for that job's fine-tuned model.")
    capacity: int = 1
    suffix: str | None = None
    plan: str | None = None
    status: Literal["PENDING", "DEPLOYING", "RUNNING", "FAILED"] = "RUNNING"
    message: str | None = None


class TenantSpec(WireModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=1)
    workspace: str | None = None
    files: list[FileSpec] = []
    fine_tunes: list[JobSpec] = []
    deployments: list[DeploymentSpec] = []


class WorldSpec(WireModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    tenants: list[TenantSpec]


@dataclass
class _Loaded:
    spec: TenantSpec
    tenant: Tenant
    files: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)
    deployments: list[str] = field(default_factory=list)


class WorldError(ValueError):
    pass


Allow = Callable[[Path], Path]
"""The path a world may read (the control service confines it and checks that it is a regular file)."""


def read_world(path: Path, data: bytes) -> WorldSpec:
    """Parse a world; an error names the field and the problem, never the file's content."""
    try:
        return WorldSpec.model_validate(strict_json(data))
    except ValidationError as exc:
        raise WorldError(f"{path} is not a world file: {_problem(exc)}") from None
    except ValueError as exc:  # not JSON, or NaN/Infinity in it
        raise WorldError(f"{path} is not a world file: {exc}") from None


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    kind = first["type"]
    if kind == "json_invalid":
        return "it is not valid JSON"
    loc = [str(part) for part in first["loc"]]
    if kind == "extra_forbidden":  # the unknown key is the file's content: named by its place only
        return f"an unknown field in {'.'.join(loc[:-1]) or 'the top level'}"
    return f"{'.'.join(loc) or 'the top level'}: {first['msg']}"


async def load_world(rt: Runtime, services: Services, world: WorldSpec, base_dir: Path, allow: Allow) -> dict[str, Any]:
    """Create the world; answers what was made: per tenant, file ids, job ids and statuses, deployments."""
    loaded = [
        _Loaded(spec, await rt.tenants.resolve(spec.api_key, spec.workspace, rt.clock.now())) for spec in world.tenants
    ]
    for item in loaded:
        for file_spec in item.spec.files:
            item.files[file_spec.name] = await _upload(rt, services, item.tenant, file_spec, base_dir, allow)
    await _succeeded_jobs(rt, services, loaded)
    for item in loaded:
        for dep in item.spec.deployments:
            item.deployments.append(await _deploy(rt, services, item, dep))
    for wanted in (
        (JobStatus.FAILED, JobStatus.CANCELED),
        (JobStatus.RUNNING, JobStatus.CANCELING),
        (JobStatus.QUEUING,),
        (JobStatus.PENDING,),
    ):
        for item in loaded:
            for job in item.spec.fine_tunes:
                if job.status in wanted:
                    item.jobs[job.name] = await _job_to(rt, services, item, job)
    return await _summary(rt, services, loaded)


async def _upload(rt: Runtime, services: Services, tenant: Tenant, spec: FileSpec, base_dir: Path, allow: Allow) -> str:
    """Through the files service, as an upload would go: the file is staged to a temp file, then checked and stored."""
    path = allow(base_dir / spec.path)
    try:
        staged = await asyncio.to_thread(stage_copy, path, rt.temp_dir)
    except OSError as exc:
        raise WorldError(f"file {spec.name!r}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        outcome = await services.files.upload_files(
            tenant, [staged], purpose=spec.purpose, descriptions=[spec.description]
        )
    finally:
        staged.temp_path.unlink(missing_ok=True)
    if not outcome.uploaded:
        failure = outcome.failed[0]
        raise WorldError(f"file {spec.name!r} ({path}) was refused: {failure.code}: {failure.message}")
    return str(outcome.uploaded[0].file_id)


async def _create_job(rt: Runtime, services: Services, item: _Loaded, spec: JobSpec) -> str:
    def ids(names: list[str]) -> list[str]:
        missing = [n for n in names if n not in item.files]
        if missing:
            raise WorldError(f"job {spec.name!r} names unknown file {missing[0]!r}")
        return [item.files[n] for n in names]

    req = CreateJobRequest.model_validate(
        {
            "model": spec.model,
            "training_file_ids": ids(spec.training_files),
            "validation_file_ids": ids(spec.validation_files),
            "training_type": spec.training_type,
            "hyper_parameters": spec.hyper_parameters,
            "finetuned_output_suffix": spec.suffix,
            "job_name": spec.name,
        }
    )
    job = await services.fine_tunes.create_job(item.tenant, req)
    return str(job.job_id)


async def _succeeded_jobs(rt: Runtime, services: Services, loaded: list[_Loaded]) -> None:
    """Created together, then the clock runs until every one has finished (each tenant trains one at a time)."""
    waiting: list[tuple[_Loaded, JobSpec]] = []
    for item in loaded:
        for spec in item.spec.fine_tunes:
            if spec.status is JobStatus.SUCCEEDED:
                item.jobs[spec.name] = await _create_job(rt, services, item, spec)
                waiting.append((item, spec))
    service = services.fine_tunes
    moved = 0.0
    while waiting:
        item, spec = waiting[0]
        job = await service.get_job(item.tenant, item.jobs[spec.name])
        if job.status is JobStatus.SUCCEEDED:
            waiting.pop(0)
            continue
        if job.status in (JobStatus.FAILED, JobStatus.CANCELED):
            raise WorldError(f"job {spec.name!r} was meant to succeed but ended {job.status}: {job.message}")
        if moved >= _MAX_SECONDS:
            raise WorldError(f"job {spec.name!r} still {job.status} after {moved:g} emulated seconds")
        rt.clock.advance(_STEP_SECONDS)
        moved += _STEP_SECONDS


async def _job_to(rt: Runtime, services: Services, item: _Loaded, spec: JobSpec) -> str:
    service = services.fine_tunes
    job_id = await _create_job(rt, services, item, spec)
    if spec.status is JobStatus.CANCELED:
        await service.cancel_job(item.tenant, job_id)
    elif spec.status is JobStatus.CANCELING:
        await service.force_status(job_id, JobStatus.RUNNING, None)
        await service.cancel_job(item.tenant, job_id)
    elif spec.status is not JobStatus.PENDING:
        await service.force_status(job_id, spec.status, spec.message)
    job = await service.get_job(item.tenant, job_id)
    if job.status is not spec.status:
        raise WorldError(
            f"job {spec.name!r} is {job.status}, not {spec.status} (a tenant trains one job at a time: "
            "QUEUING needs a RUNNING or CANCELING job of the same tenant)"
        )
    return job_id


async def _deploy(rt: Runtime, services: Services, item: _Loaded, spec: DeploymentSpec) -> str:
    service = services.deployments
    model = spec.model
    if model.startswith("@"):
        job_name = model[1:]
        if job_name not in item.jobs:
            raise WorldError(f"deployment of {model!r}: no SUCCEEDED job named {job_name!r} in this tenant")
        model = (await services.fine_tunes.get_job(item.tenant, item.jobs[job_name])).output_model
    req = CreateDeploymentRequest.model_validate(
        {"model_name": model, "capacity": spec.capacity, "suffix": spec.suffix, "plan": spec.plan}
    )
    row = await service.create_deployment(item.tenant, req)
    name = str(row.deployed_model)
    target = DeploymentStatus(spec.status)
    moved = 0.0
    while row.status is not target and target is DeploymentStatus.RUNNING and moved < _MAX_SECONDS:
        rt.clock.advance(_STEP_SECONDS / 2)
        moved += _STEP_SECONDS / 2
        row = await service.get_deployment(item.tenant, name)
    if target in (DeploymentStatus.DEPLOYING, DeploymentStatus.FAILED):
        row = await service.force_status(name, target, spec.message, item.tenant.id)
    if row.status is not target:
        raise WorldError(f"deployment {name} is {row.status}, not {target}")
    return name


async def _summary(rt: Runtime, services: Services, loaded: list[_Loaded]) -> dict[str, Any]:
    tenants = []
    for item in loaded:
        jobs = {}
        for name, job_id in item.jobs.items():
            job = await services.fine_tunes.get_job(item.tenant, job_id)
            jobs[name] = {"job_id": job_id, "status": str(job.status)}
        deployments = {}
        for name in item.deployments:
            row = await services.deployments.get_deployment(item.tenant, name)
            deployments[name] = str(row.status)
        tenants.append(
            {
                "api_key": item.spec.api_key,
                "tenant": item.tenant.id,
                "files": item.files,
                "fine_tunes": jobs,
                "deployments": deployments,
            }
        )
    return {"tenants": tenants, "emulated_time": rt.clock.now()}


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False)
