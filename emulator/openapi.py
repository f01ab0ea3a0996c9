"""The OpenAPI document, generated from the pydantic models the handlers themselves use.

One declaration per endpoint: each resource's routes module exports only ``operations``, a list of
``Operation(method, path, summary, tag, ..., endpoint=handler)``; the router's routes come from them
(``endpoint_routes``) and so does the document.  This module turns them into OpenAPI 3.1 with one component
schema per model, the service's envelopes (``{"request_id", "data"}`` for files, ``{"request_id", "output"}``
elsewhere) and its error body.  ``/docs`` serves Swagger UI 5 (which renders OpenAPI 3.1) from the static files
the ``swagger-ui-py`` package ships: nothing is fetched from the internet.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from emulator import __version__, lazy

if TYPE_CHECKING:
    from pydantic import BaseModel

Envelope = Literal["data", "output", "raw", "none"]
Model: TypeAlias = "type[BaseModel] | str"
"""A model class, or ``"module:Name"`` for one whose module the route table leaves unimported at start (the
control plane's schemas, ``emulator.lazy``): resolved when the document is built."""
Endpoint = Callable[[Request], Awaitable[Response]]
REF = "#/components/schemas/{model}"


class Param:
    """A documented parameter of an operation (query, path or header)."""

    __slots__ = ("name", "where", "schema", "required", "description")

    def __init__(
        self,
        name: str,
        where: Literal["query", "path", "header"] = "query",
        schema: dict[str, Any] | None = None,
        required: bool = False,
        description: str = "",
    ) -> None:
        self.name, self.where, self.required, self.description = name, where, required, description
        self.schema: dict[str, Any] = schema if schema is not None else {"type": "string"}

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.where!r})"


class Operation:
    """One endpoint, declared once: its route (``route()``) and its entry in the OpenAPI document.

    A plain class, not a dataclass: ~110 are declared at start, and a frozen dataclass's generated methods cost
    more to make than all of them together (``bench/NOTES.md``, start-up)."""

    __slots__ = (
        "method",
        "path",
        "summary",
        "tag",
        "request",
        "response",
        "envelope",
        "params",
        "multipart",
        "sse",
        "auth",
        "openai",
        "description",
        "media_type",
        "oss",
        "endpoint",
        "name",
    )

    def __init__(
        self,
        method: str,
        path: str,
        summary: str,
        tag: str,
        *,
        request: Model | None = None,
        response: Model | None = None,
        envelope: Envelope = "output",
        params: tuple[Param, ...] = (),
        multipart: dict[str, Any] | None = None,
        sse: bool = False,
        auth: bool = True,
        openai: bool = False,
        description: str = "",
        media_type: str | None = None,
        oss: bool = False,
        endpoint: Endpoint | None = None,
        name: str | None = None,
    ) -> None:
        self.method, self.path, self.summary, self.tag = method, path, summary, tag
        self.request, self.response, self.envelope, self.params = request, response, envelope, params
        self.multipart, self.sse, self.auth, self.openai = multipart, sse, auth, openai
        """``sse``: answers Server-Sent Events: only them, or with ``response`` a JSON body unless the request
        streams."""
        self.description = description
        self.media_type = media_type
        """A success body that is not JSON (a file's bytes): documented as a binary string of this type."""
        self.oss = oss
        """An OSS-style endpoint: success is an empty 200/204, errors are XML ``<Error>`` documents."""
        self.endpoint, self.name = endpoint, name

    def __repr__(self) -> str:
        return f"Operation({self.method!r}, {self.path!r})"

    def route(self) -> Route:
        """The router's half of this declaration."""
        if self.endpoint is None:
            raise ValueError(f"{self.method} {self.path} declares no endpoint")
        return lazy.LazyRoute(self.path, self.endpoint, methods=[self.method], name=self.name)


def endpoint_routes(operations: Iterable[Operation]) -> list[BaseRoute]:
    """The routes of a resource, in declaration order (a literal path must come before a ``{param}`` one)."""
    return [op.route() for op in operations]


def page_params() -> tuple[Param, ...]:
    return (
        Param("page_no", schema={"type": "integer", "minimum": 1, "default": 1}),
        Param(
            "page_size",
            schema={"type": "integer", "minimum": 1, "default": 10},
            description="Values above the maximum are clamped.",
        ),
    )


def path_param(name: str) -> Param:
    return Param(name, where="path", required=True)


def build_document(operations: Sequence[Operation], server_url: str | None = None) -> dict[str, Any]:
    """Built on request (``/openapi.json``): pydantic and every named model are imported here, not at start."""
    from pydantic.json_schema import models_json_schema

    models = _models(operations)
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "dashscope-emulator",
            "version": __version__,
            "description": "A local emulator of Alibaba Cloud Model Studio (DashScope): files, fine-tunes, "
            "deployments, generation.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc


def _models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    from emulator.openapi_schemas import ErrorBody, OpenAIErrorBody

    found: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody, "OpenAIErrorBody": OpenAIErrorBody}
    for op in operations:
        for model in (op.request, op.response):
            if model is not None:
                cls = model_class(model)
                found.setdefault(cls.__name__, cls)
    return list(found.values())


def model_class(model: Model) -> type[BaseModel]:
    if isinstance(model, str):
        found: type[BaseModel] = lazy.attribute(model)
        return found
    return model


def _ref(model: Model) -> dict[str, str]:
    return {"$ref": REF.format(model=model_class(model).__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(op),
        "responses": {"200": _success(op), "default": _error(op)},
    }
    if op.oss:
        out["responses"] = {
            "200": {"description": "Stored (success_action_status 200)"},
            "204": {"description": "Stored"},
            "default": {"description": "OSS error", "content": {"application/xml": {"schema": {"type": "string"}}}},
        }
    if op.description:
        out["description"] = op.description
    if op.params:
        out["parameters"] = [_param(p) for p in op.params]
    body = _request_body(op)
    if body is not None:
        out["requestBody"] = body
    out["security"] = [{"apiKey": []}] if op.auth else []
    return out


def _operation_id(op: Operation) -> str:
    words = [w for w in op.path.replace("{", "").replace("}", "").replace("-", "_").split("/") if w]
    return "_".join([op.method.lower(), *words])


def _param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "in": p.where,
        "required": p.required or p.where == "path",
        "schema": p.schema,
    }
    if p.description:
        out["description"] = p.description
    return out


def _request_body(op: Operation) -> dict[str, Any] | None:
    if op.multipart is not None:
        return {"required": True, "content": {"multipart/form-data": {"schema": op.multipart}}}
    if op.request is None:
        return None
    return {"required": True, "content": {"application/json": {"schema": _ref(op.request)}}}


def _success(op: Operation) -> dict[str, Any]:
    if op.sse and op.response is None:
        return {"description": "Server-Sent Events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    if op.media_type is not None:
        return {"description": "OK", "content": {op.media_type: {"schema": {"type": "string", "format": "binary"}}}}
    if op.envelope == "none":
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["request_id"],
            "properties": {"request_id": {"type": "string"}},
        }
    elif op.envelope == "raw" or op.response is None:
        schema = _ref(op.response) if op.response is not None else {"type": "object"}
    else:
        schema = {
            "type": "object",
            "required": ["request_id", op.envelope],
            "properties": {"request_id": {"type": "string"}, op.envelope: _ref(op.response)},
        }
    if op.sse:  # JSON, or a stream of JSON events when the request asks for one
        events = {"text/event-stream": {"schema": {"type": "object", "description": "Each event's data."}}}
        return {
            "description": "OK (Server-Sent Events when streamed)",
            "content": {"application/json": {"schema": schema}, **events},
        }
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _error(op: Operation) -> dict[str, Any]:
    model = "emulator.openapi_schemas:OpenAIErrorBody" if op.openai else "emulator.openapi_schemas:ErrorBody"
    return {"description": "Error", "content": {"application/json": {"schema": _ref(model)}}}


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dashscope-emulator API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
</body></html>"""


def routes(operations: Sequence[Operation]) -> list[BaseRoute]:
    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(build_document(operations, str(request.base_url).rstrip("/")))

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML)

    out: list[BaseRoute] = [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    static = swagger_ui_static()
    if static is not None:
        out.append(Mount("/docs/static", app=StaticFiles(directory=static), name="swagger-ui"))
    return out


def swagger_ui_static() -> str | None:
    """The Swagger UI files of ``swagger-ui-py``, found without importing it (its package imports PyYAML and its
    web-framework glue, which a server's start-up has no use for)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a declared dependency
        return None
    static = os.path.join(next(iter(spec.submodule_search_locations)), "static")
    return static if os.path.isfile(os.path.join(static, "swagger-ui-bundle.js")) else None
