"""HTTP for /api/v1/deployments: parse, call the service, shape the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.changes import CLOCK
from emulator.clock import fmt_deploy_time
from emulator.context import caller
from emulator.deployments import LIST_DEFAULT_SIZE, LIST_MAX_SIZE, MODEL_SOURCES, MODELS_VERSIONS
from emulator.deployments.schemas import (
    CreateDeploymentRequest,
    DeployableModel,
    DeployableModelList,
    DeployableModelListV1,
    DeployableModelV1,
    DeploymentEvent,
    DeploymentList,
    PlanEntry,
    ScaleRequest,
    Template,
)
from emulator.deployments.service import (
    CHARGE_TYPE,
    MODELS_BASE_CAPACITY,
    Deployable,
    DeploymentsService,
    deployment_key,
)
from emulator.deployments.states import FINAL_FOR_WATCHERS
from emulator.deployments.store import DeploymentRow
from emulator.deployments.wire import deployment_object
from emulator.errors import InvalidParameter
from emulator.http import envelope, read_model
from emulator.pagination import parse_page
from emulator.runtime import Runtime
from emulator.services import services
from emulator.sse import HEARTBEAT, encode_json, stream_response

V1_MAX_SIZE = 100


def _answer(request: Request, row: DeploymentRow) -> JSONResponse:
    return envelope(request, "output", deployment_object(row).model_dump(exclude_none=True))


async def create_deployment(request: Request) -> JSONResponse:
    req = await read_model(request, CreateDeploymentRequest)
    return _answer(request, await services(request).deployments.create_deployment(caller(request), req))


async def list_deployments(request: Request) -> JSONResponse:
    page = parse_page(request.query_params, default_size=LIST_DEFAULT_SIZE, max_size=LIST_MAX_SIZE)
    total, rows = await services(request).deployments.list_deployments(caller(request), page.offset, page.page_size)
    data = DeploymentList(
        deployments=[deployment_object(r) for r in rows], page_no=page.page_no, page_size=page.page_size, total=total
    )
    return envelope(request, "output", data.model_dump(exclude_none=True))


async def get_deployment(request: Request) -> JSONResponse:
    row = await services(request).deployments.get_deployment(caller(request), request.path_params["deployed_model"])
    return _answer(request, row)


async def scale_deployment(request: Request) -> JSONResponse:
    deployed_model = request.path_params["deployed_model"]
    req = await read_model(request, ScaleRequest)
    if req.deployed_model not in (None, deployed_model):
        raise InvalidParameter(
            f"deployed_model in the body ({req.deployed_model}) differs from the path ({deployed_model}).",
            param="deployed_model",
        )
    row = await services(request).deployments.scale_deployment(caller(request), deployed_model, req.capacity)
    return _answer(request, row)


async def delete_deployment(request: Request) -> JSONResponse:
    """Answers the deployment in DELETING (reference §5.2); it is gone a few emulated seconds later."""
    row = await services(request).deployments.delete_deployment(caller(request), request.path_params["deployed_model"])
    return _answer(request, row)


async def deployable_models(request: Request) -> JSONResponse:
    """Without ``version``: the old flat shape; ``version=v1.0``: each model's plans and MU templates (2026)."""
    version = request.query_params.get("version") or None
    if version is not None and version not in MODELS_VERSIONS:
        raise InvalidParameter(f"version must be v1.0 (got {version!r}).", param="version")
    max_size = V1_MAX_SIZE if version else LIST_MAX_SIZE
    page = parse_page(request.query_params, default_size=LIST_DEFAULT_SIZE, max_size=max_size)
    source = request.query_params.get("model_source") or "base"
    if source not in MODEL_SOURCES:
        raise InvalidParameter(f"model_source must be base or custom (got {source!r}).", param="model_source")
    total, shown = await services(request).deployments.deployable_sources(
        caller(request), source, page.offset, page.page_size
    )
    if version:
        v1 = DeployableModelListV1(
            models=[_v1_model(m) for m in shown], page_no=page.page_no, page_size=page.page_size, total=total
        )
        return envelope(request, "output", v1.model_dump(exclude_none=True))
    data = DeployableModelList(
        models=[DeployableModel(model_name=m.name, base_capacity=MODELS_BASE_CAPACITY) for m in shown],
        page_no=page.page_no,
        page_size=page.page_size,
        total=total,
    )
    return envelope(request, "output", data.model_dump())


def _v1_model(model: Deployable) -> DeployableModelV1:
    plans = [
        PlanEntry(plan="mu", charge_type=CHARGE_TYPE, templates=list(mu_templates()))
        if plan == "mu"
        else PlanEntry(plan=plan)
        for plan in model.plans
    ]
    return DeployableModelV1(model_name=model.name, plans=plans)


def _role(spec: str) -> dict[str, object]:
    return {"model_unit_spec": spec, "capacity_unit_per_instance": MODELS_BASE_CAPACITY}


@cache
def mu_templates() -> tuple[Template, ...]:
    """The ``mu`` plan's templates, built on the first models listing (a model built at import would build its
    validator, and pydantic's plugin scan with it, on every start-up)."""
    return (
        Template(
            template_id="MU1",
            template_name="单机部署-标准推理型",
            template_type="COUPLED",
            template_version="v1",
            template_desc="适用于标准推理场景",
            charge_type=CHARGE_TYPE,
            roles={"unified": _role("MU1")},
        ),
        Template(
            template_id="MU1-PD",
            template_name="PD分离部署-标准推理型",
            template_type="SEPERATED",  # the docs' spelling
            template_version="v1",
            template_desc="适用于PD分离推理场景",
            charge_type=CHARGE_TYPE,
            roles={"prefill": _role("MU1"), "decode": _role("MU1")},
        ),
    )


async def stream_deployment(request: Request) -> Response:
    """Status snapshots as Server-Sent Events until the deployment is RUNNING, FAILED or gone (reference 2026
    §4.5); a 404 goes out as JSON before the stream starts."""
    service = services(request).deployments
    await service.get_deployment(caller(request), request.path_params["deployed_model"])
    return stream_response(_follow(request, service, request.path_params["deployed_model"]))


async def _follow(request: Request, service: DeploymentsService, deployed_model: str) -> AsyncIterator[bytes]:
    rt: Runtime = request.app.state.rt
    last: DeploymentEvent | None = None
    sent = 0
    while True:
        row, next_at = await service.peek(caller(request), deployed_model)
        if row is None:
            return
        event = DeploymentEvent(
            deployed_model=row.deployed_model,
            status=row.status.value,
            capacity=row.capacity,
            ready_capacity=row.ready_capacity,
            gmt_modified=fmt_deploy_time(row.modified_at),
        )
        if event != last:
            sent += 1
            yield encode_json(event.model_dump(), event="result", event_id=sent)
            last = event
        if row.status in FINAL_FOR_WATCHERS:
            return
        if not await wait_for_change(rt, next_at, (deployment_key(deployed_model), CLOCK)):
            yield HEARTBEAT


async def wait_for_change(rt: Runtime, next_at: float | None, keys: tuple[str, ...] = ()) -> bool:
    """Sleep until state may have moved: a change of this deployment or of the clock (``keys``), the next
    scheduled change (``next_at``), or a heartbeat's time; True when woken, False for a heartbeat.  Under
    ``--workers`` another worker's changes wake no one here, so it looks again at least every 0.5 s."""
    heartbeat = rt.settings.heartbeat_seconds
    until = rt.clock.wall_seconds_until(next_at) if next_at is not None else None
    step = min(heartbeat, max(until, 0.02)) if until is not None else heartbeat
    if rt.settings.workers > 1:
        step = min(step, 0.5)  # another worker's changes do not wake this one
    return await rt.changes.wait(step, keys)
