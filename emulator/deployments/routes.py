"""The route table of ``emulator.deployments``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.deployments import LIST_DEFAULT_SIZE, LIST_MAX_SIZE, MODEL_SOURCES, MODELS_VERSIONS
from emulator.openapi import Operation, Param, path_param

HANDLERS = "emulator.deployments.handlers"
SCHEMAS = "emulator.deployments.schemas"


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
        request=f"{SCHEMAS}:CreateDeploymentRequest",
        response=f"{SCHEMAS}:DeploymentObject",
        endpoint=lazy.handler(f"{HANDLERS}:create_deployment"),
    ),
    Operation(
        "GET",
        "/api/v1/deployments",
        "List deployments (newest first)",
        "deployments",
        response=f"{SCHEMAS}:DeploymentList",
        params=_PAGE,
        endpoint=lazy.handler(f"{HANDLERS}:list_deployments"),
    ),
    Operation(
        "GET",
        "/api/v1/deployments/models",
        "List the models that can be deployed",
        "deployments",
        response=f"{SCHEMAS}:DeployableModelPage",
        params=(
            *_PAGE,
            Param(
                "model_source",
                schema={"type": "string", "enum": list(MODEL_SOURCES), "default": "base"},
                description="base: system models; custom: this account's fine-tuned models.",
            ),
            Param(
                "version",
                schema={"type": "string", "enum": list(MODELS_VERSIONS)},
                description="v1.0: each model's plans and MU templates (page_size at most 100); "
                "absent: the flat {model_name, base_capacity} list.",
            ),
        ),
        endpoint=lazy.handler(f"{HANDLERS}:deployable_models"),
    ),
    Operation(
        "GET",
        "/api/v1/deployments/{deployed_model}",
        "Get a deployment",
        "deployments",
        response=f"{SCHEMAS}:DeploymentObject",
        params=_DEPLOYED,
        endpoint=lazy.handler(f"{HANDLERS}:get_deployment"),
    ),
    Operation(
        "DELETE",
        "/api/v1/deployments/{deployed_model}",
        "Take a deployment offline (answers it in DELETING)",
        "deployments",
        response=f"{SCHEMAS}:DeploymentObject",
        params=_DEPLOYED,
        endpoint=lazy.handler(f"{HANDLERS}:delete_deployment"),
    ),
    Operation(
        "PUT",
        "/api/v1/deployments/{deployed_model}/scale",
        "Change a running deployment's capacity",
        "deployments",
        request=f"{SCHEMAS}:ScaleRequest",
        response=f"{SCHEMAS}:DeploymentObject",
        params=_DEPLOYED,
        endpoint=lazy.handler(f"{HANDLERS}:scale_deployment"),
    ),
    Operation(
        "GET",
        "/api/v1/deployments/{deployed_model}/stream",
        "Follow a deployment's status as Server-Sent Events (until RUNNING, FAILED or gone)",
        "deployments",
        sse=True,
        params=_DEPLOYED,
        endpoint=lazy.handler(f"{HANDLERS}:stream_deployment"),
    ),
]
