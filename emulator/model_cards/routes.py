"""HTTP for /api/v1/models: the list (``page_no``, ``page_size``, ``model``) and one model by name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import ModelNotFound
from emulator.http import envelope
from emulator.model_cards.schemas import ModelItem, ModelPage
from emulator.model_cards.service import ModelCardsService
from emulator.openapi import Operation, Param, page_params, path_param
from emulator.pagination import parse_page
from emulator.services import services

NOT_EXIST = "Model not exist."


def _service(request: Request) -> ModelCardsService:
    return services(request).model_cards


async def list_models(request: Request) -> Response:
    page = parse_page(request.query_params)
    model = request.query_params.get("model") or None
    total, items = await _service(request).page(caller(request), page.offset, page.page_size, model)
    output = {"models": items, "total": total, "page_no": page.page_no, "page_size": page.page_size}
    return envelope(request, "output", output)


async def get_model(request: Request) -> Response:
    found = await _service(request).find(caller(request), request.path_params["name"])
    if found is None:
        raise ModelNotFound(NOT_EXIST)
    return envelope(request, "output", found)


operations = [
    Operation(
        "GET",
        "/api/v1/models",
        "List models (base models, then the tenant's own)",
        "models",
        response=ModelPage,
        params=(*page_params(), Param("model", description="Exactly this model: `models` holds it or is empty.")),
        description="`dashscope auth whoami` and `Models.list`/`Models.get` (2.x sends `?model=`) read this.",
        endpoint=list_models,
    ),
    Operation(
        "GET",
        "/api/v1/models/{name}",
        "Get a model (1.x's path form)",
        "models",
        response=ModelItem,
        params=(path_param("name"),),
        description='Unknown: 404 `ModelNotFound` "Model not exist.".',
        endpoint=get_model,
    ),
]
