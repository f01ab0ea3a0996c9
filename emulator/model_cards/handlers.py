"""HTTP for /api/v1/models: the list (``page_no``, ``page_size``, ``model``) and one model by name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import caller
from emulator.errors import ModelNotFound
from emulator.http import envelope
from emulator.model_cards.service import ModelCardsService
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
