"""``/_emulator/models``: the catalog as this server answers it, and the user layer on top of the bundled files.

``GET`` lists every model with its capabilities (``?q=`` filters by name, ``?user=true`` keeps the user's);
``POST`` adds or overrides models (one entry, or ``{"models": [...]}``, in ``serving.json``'s format: ``like``
copies an existing model's capabilities); ``DELETE /_emulator/models/{model}`` drops a user model (a bundled model
it overrode comes back). The same entries load at start from ``--models FILE`` (JSON or YAML).

Their routes are declared with the control plane's (``emulator.control.routes``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from emulator.catalog import CatalogError, catalog_loaded, load_catalog
from emulator.errors import InvalidParameter, NotFound
from emulator.http import read_json_object
from emulator.settings import Settings

MAX_MODELS = 1000
"""User models a server keeps (a bound on what the control plane can make it hold)."""


def read_models_file(path: Path) -> list[Mapping[str, Any]]:
    """The entries of a ``--models`` file: a JSON or YAML list, or an object with a ``models`` list."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        yaml: Any = importlib.import_module("yaml")  # PyYAML (uvicorn[standard] brings it; no stubs)
        document = yaml.safe_load(text)
    else:
        document = json.loads(text)
    entries = document.get("models") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: expected a list of models, or an object with a 'models' list")
    return entries


def load_user_models(settings: Settings) -> None:
    """The process catalog's user layer, as ``--models`` gives it (empty without it).  A catalog not parsed yet in
    this process has no user layer to reset: without ``--models`` it stays unparsed until its first use."""
    if settings.models_file is None and not catalog_loaded():
        return
    catalog = load_catalog()
    catalog.reset_user_models()
    if settings.models_file is not None:
        catalog.add_user_models(read_models_file(settings.models_file))


async def list_models(request: Request) -> JSONResponse:
    catalog = load_catalog()
    query = request.query_params.get("q", "").lower()
    user_only = request.query_params.get("user", "").lower() in ("1", "true", "yes")
    models = [m.capabilities() for m in catalog.models() if query in m.id.lower() and (m.user or not user_only)]
    return JSONResponse({"object": "list", "total": len(models), "data": models})


async def get_model(request: Request) -> JSONResponse:
    model = load_catalog().get(request.path_params["model"])
    if model is None:
        raise NotFound(f"Model {request.path_params['model']!r} is not in the catalog.")
    return JSONResponse(model.capabilities())


async def add_models(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    entries = body.get("models") if "models" in body else [body]
    if not isinstance(entries, list) or not entries:
        raise InvalidParameter('Send one model object, or {"models": [...]}.', param="models")
    catalog = load_catalog()
    if len(catalog.user_models()) + len(entries) > MAX_MODELS:
        raise InvalidParameter(f"At most {MAX_MODELS} user models.", param="models")
    try:
        added = catalog.add_user_models(entries)
    except CatalogError as exc:
        raise InvalidParameter(str(exc), param="models") from None
    return JSONResponse({"object": "list", "total": len(added), "data": [m.capabilities() for m in added]})


async def remove_model(request: Request) -> JSONResponse:
    model = request.path_params["model"]
    if not load_catalog().remove_user_model(model):
        raise NotFound(f"Model {model!r} is not a user model (bundled models cannot be removed).")
    restored = load_catalog().get(model)
    return JSONResponse({"id": model, "deleted": True, "bundled": restored.capabilities() if restored else None})
