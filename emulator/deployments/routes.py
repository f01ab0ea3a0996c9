"""HTTP for /api/v1/deployments: parse, call the service, shape the answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulator.clock import fmt_deploy_time
from emulator.deployments.schemas import (
    CreateDeploymentRequest,
    DeployableModel,
    DeployableModelList,
    DeploymentList,
    DeploymentObject,
    ScaleRequest,
)
from emulator.deployments.service import DeploymentsService
from emulator.deployments.store import DeploymentRow
from emulator.errors import InvalidParameter
from emulator.http import envelope, read_model
from emulator.openapi import Operation, Param, path_param
from emulator.pagination import parse_page

LIST_DEFAULT_SIZE = 50
LIST_MAX_SIZE = 200
MODEL_SOURCES = ("base", "custom")


def _service(request: Request) -> DeploymentsService:
    return request.app.state.rt.services["deployments"]  # type: ignore[no-any-return]


def deployment_object(row: DeploymentRow) -> DeploymentObject:
    return DeploymentObject(
        deployed_model=row.deployed_model,
        gmt_create=fmt_deploy_time(row.schedule.created_at),
        gmt_modified=fmt_deploy_time(row.modified_at),
        status=row.status.value,
        model_name=row.model_name,
        base_model=row.base_model,
        base_capacity=row.base_capacity,
        capacity=row.capacity,
        ready_capacity=row.ready_capacity,
        workspace_id=row.workspace_id,
        charge_type=row.charge_type,
        creator=row.creator,
        modifier=row.creator,
    )


def _answer(request: Request, row: DeploymentRow) -> JSONResponse:
    return envelope(request, "output", deployment_object(row).model_dump())


async def create_deployment(request: Request) -> JSONResponse:
    req = await read_model(request, CreateDeploymentRequest)
    return _answer(request, await _service(request).create_deployment(request.state.tenant, req))


async def list_deployments(request: Request) -> JSONResponse:
    page = parse_page(request.query_params, default_size=LIST_DEFAULT_SIZE, max_size=LIST_MAX_SIZE)
    total, rows = await _service(request).list_deployments(request.state.tenant, page.offset, page.page_size)
    data = DeploymentList(
        deployments=[deployment_object(r) for r in rows], page_no=page.page_no, page_size=page.page_size, total=total
    )
    return envelope(request, "output", data.model_dump())


async def get_deployment(request: Request) -> JSONResponse:
    row = await _service(request).get_deployment(request.state.tenant, request.path_params["deployed_model"])
    return _answer(request, row)


async def scale_deployment(request: Request) -> JSONResponse:
    deployed_model = request.path_params["deployed_model"]
    req = await read_model(request, ScaleRequest)
    if req.deployed_model not in (None, deployed_model):
        raise InvalidParameter(
            f"deployed_model in the body ({req.deployed_model}) differs from the path ({deployed_model}).",
            param="deployed_model",
        )
    row = await _service(request).scale_deployment(request.state.tenant, deployed_model, req.capacity)
    return _answer(request, row)


async def delete_deployment(request: Request) -> JSONResponse:
    """Answers the deployment in DELETING (reference §5.2); it is gone a few emulated seconds later."""
    row = await _service(request).delete_deployment(request.state.tenant, request.path_params["deployed_model"])
    return _answer(request, row)


async def deployable_models(request: Request) -> JSONResponse:
    page = parse_page(request.query_params, default_size=LIST_DEFAULT_SIZE, max_size=LIST_MAX_SIZE)
    source = request.query_params.get("model_source") or "base"
    if source not in MODEL_SOURCES:
        raise InvalidParameter(f"model_source must be base or custom (got {source!r}).", param="model_source")
    models = await _service(request).deployable_models(request.state.tenant, source)
    data = DeployableModelList(
        models=[
            DeployableModel(model_name=name, base_capacity=unit)
            for name, unit in models[page.offset : page.offset + page.page_size]
        ],
        page_no=page.page_no,
        page_size=page.page_size,
        total=len(models),
    )
    return envelope(request, "output", data.model_dump())


routes = [
    Route("/api/v1/deployments", create_deployment, methods=["POST"]),
    Route("/api/v1/deployments", list_deployments, methods=["GET"]),
    Route("/api/v1/deployments/models", deployable_models, methods=["GET"]),
    Route("/api/v1/deployments/{deployed_model}", get_deployment, methods=["GET"]),
    Route("/api/v1/deployments/{deployed_model}", delete_deployment, methods=["DELETE"]),
    Route("/api/v1/deployments/{deployed_model}/scale", scale_deployment, methods=["PUT"]),
]

_DEPLOYED = (path_param("deployed_model"),)
_PAGE = (
    Param("page_no", schema={"type": "integer", "minimum": 1, "default": 1}),
    Param(
        "page_size",
        schema={"type": "integer", "minimum": 1, "default": LIST_DEFAULT_SIZE},
        description=f"Values above {LIST_MAX_SIZE} are clamped.",
    ),
)

operations = [
    Operation(
        "POST",
        "/api/v1/deployments",
        "Deploy a fine-tuned or deployable base model",
        "deployments",
        request=CreateDeploymentRequest,
        response=DeploymentObject,
    ),
    Operation(
        "GET",
        "/api/v1/deployments",
        "List deployments (newest first)",
        "deployments",
        response=DeploymentList,
        params=_PAGE,
    ),
    Operation(
        "GET",
        "/api/v1/deployments/models",
        "List the models that can be deployed",
        "deployments",
        response=DeployableModelList,
        params=(
            *_PAGE,
            Param(
                "model_source",
                schema={"type": "string", "enum": list(MODEL_SOURCES), "default": "base"},
                description="base: system models; custom: this account's fine-tuned models.",
            ),
        ),
    ),
    Operation(
        "GET",
        "/api/v1/deployments/{deployed_model}",
        "Get a deployment",
        "deployments",
        response=DeploymentObject,
        params=_DEPLOYED,
    ),
    Operation(
        "DELETE",
        "/api/v1/deployments/{deployed_model}",
        "Take a deployment offline (answers it in DELETING)",
        "deployments",
        response=DeploymentObject,
        params=_DEPLOYED,
    ),
    Operation(
        "PUT",
        "/api/v1/deployments/{deployed_model}/scale",
        "Change a running deployment's capacity",
        "deployments",
        request=ScaleRequest,
        response=DeploymentObject,
        params=_DEPLOYED,
    ),
]
