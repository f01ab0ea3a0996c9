"""The ceiling for request overhead: a bare Starlette app with one JSON route, served exactly as the emulator is.

``python bench/bare.py PORT PAYLOADS.json``: ``GET /NAME`` answers the JSON payload stored under NAME (the bench
stores the emulator's own answers, so both sides serialise the same bytes).  The uvicorn call mirrors
``emulator/__main__.py``: same loop and HTTP implementation ("auto"), one worker, access log off.
"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app(payloads: dict[str, object]) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        return JSONResponse(payloads.get(request.path_params["name"], {"status": "ok"}))

    return Starlette(routes=[Route("/{name}", answer, methods=["GET"])])


def main() -> None:
    port, payload_file = int(sys.argv[1]), sys.argv[2]
    with open(payload_file) as fh:
        payloads = json.load(fh)
    uvicorn.run(create_app(payloads), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
