"""The route table of ``emulator.model_cards``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, page_params, path_param

HANDLERS = "emulator.model_cards.handlers"
SCHEMAS = "emulator.model_cards.schemas"


operations = [
    Operation(
        "GET",
        "/api/v1/models",
        "List models (base models, then the tenant's own)",
        "models",
        response=f"{SCHEMAS}:ModelPage",
        params=(*page_params(), Param("model", description="Exactly this model: `models` holds it or is empty.")),
        description="`dashscope auth whoami` and `Models.list`/`Models.get` (2.x sends `?model=`) read this.",
        endpoint=lazy.handler(f"{HANDLERS}:list_models"),
    ),
    Operation(
        "GET",
        "/api/v1/models/{name}",
        "Get a model (1.x's path form)",
        "models",
        response=f"{SCHEMAS}:ModelItem",
        params=(path_param("name"),),
        description='Unknown: 404 `ModelNotFound` "Model not exist.".',
        endpoint=lazy.handler(f"{HANDLERS}:get_model"),
    ),
]
