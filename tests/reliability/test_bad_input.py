"""Property-based bad input over every route of the app: random methods, path parameters, query strings, headers,
JSON, raw and multipart bodies, in-process through httpx's ASGI transport.

Whatever arrives: never a 5xx; every error of the API and of the control plane in the error model
(``request_id``, ``code``, ``message``; OpenAI's shape under /compatible-mode/), its request id matching the
``X-Request-Id`` header; and the server healthy afterwards (no internal error counted).

Two routes are left out on purpose: ``POST /_emulator/faults`` exists to make requests fail (or hang, with
a latency), and the SSE routes get only ids of finished or unknown jobs, since a stream on a running job under
a frozen clock stays open by design.  Runs are derandomized (the same examples every run, so CI is never the
flaky part); set EMULATOR_FUZZ_RANDOM=1 to explore new ones.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from emulator.app import create_app
from emulator.http import FLAT_ERROR_PREFIX
from emulator.settings import Settings
from tests.conftest import DATASETS

pytestmark = pytest.mark.slow

API_KEY = "sk-fuzz"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
EXCLUDED = {("/_emulator/faults", "POST")}
STREAMS = ("/stream",)
FUZZ = settings(
    max_examples=int(os.environ.get("EMULATOR_FUZZ_EXAMPLES", "400")),
    deadline=None,
    derandomize=not os.environ.get("EMULATOR_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

Call = Callable[..., httpx.Response]


class Target:
    """The app on a fresh database, driven from sync code through one event loop kept for the whole module."""

    def __init__(self, workdir: Path) -> None:
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.app = create_app(
            Settings(
                db=str(workdir / "fuzz.db"), data_dir=workdir / "files", time_scale=0.0, seed=11, pending_seconds=0
            )
        )
        self.runner.run(self.stack.enter_async_context(self.app.router.lifespan_context(self.app)))
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://localhost", timeout=30
        )
        self.ids: dict[str, list[str]] = {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.runner.run(asyncio.wait_for(self.client.request(method, url, **kwargs), 20))

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.run(self.stack.aclose())
        self.runner.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    t = Target(tmp_path_factory.mktemp("fuzz"))
    auth = {"Authorization": f"Bearer {API_KEY}"}
    sft = (DATASETS / "sft_basic.jsonl").read_bytes()
    file_id = t.request("POST", "/api/v1/files", files=[("files", ("sft.jsonl", sft))], headers=auth).json()["data"][
        "uploaded_files"
    ][0]["file_id"]
    job = t.request(
        "POST", "/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]}, headers=auth
    ).json()["output"]
    t.request("POST", "/_emulator/clock/advance", json={"seconds": 30 * 86400})
    finished = t.request("GET", f"/api/v1/fine-tunes/{job['job_id']}", headers=auth).json()["output"]
    assert finished["status"] in ("SUCCEEDED", "FAILED")
    t.ids = {
        "file_id": [file_id],
        "job_id": [job["job_id"]],
        "model": ["qwen-turbo", finished.get("finetuned_output", "qwen-plus")],
        "deployed_model": ["qwen-turbo"],
        "tenant": ["unknown-tenant"],
        "fault_id": ["f-1"],
    }
    yield t
    t.close()


def _routes(target: Target) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.path, tuple(sorted(r.methods or ()))) for r in target.app.routes if isinstance(r, Route)]


# ---------------------------------------------------------------- strategies

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
header_value = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(lambda s: s.encode("latin-1"))  # what can arrive on the wire
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
FIELDS = (
    "model",
    "training_file_ids",
    "validation_file_ids",
    "hyper_parameters",
    "training_type",
    "job_name",
    "input",
    "messages",
    "parameters",
    "stream",
    "seconds",
    "time_scale",
    "status",
    "message",
    "capacity",
    "api_key",
    "workspace",
    "tenant",
    "name",
    "deployed_model",
    "plan",
    "max_tokens",
    "n_epochs",
    "prompt",
)
json_body = st.one_of(json_value, st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=5))

# ---- the generators that found issue 10's 500s: lone surrogates, deep nesting, huge counts, long boundaries
surrogate_text = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3).flatmap(
    lambda bad: st.sampled_from((bad, "ok" + bad, bad + "\U0001f600"))
)  # json.dumps escapes each as \udXXX: the bytes a client sends
hostile_value = st.one_of(
    surrogate_text,
    st.dictionaries(surrogate_text, scalar, min_size=1, max_size=2),
    st.lists(surrogate_text, min_size=1, max_size=3),
)


@st.composite
def deep_json(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from((65, 100, 1000, 10_000)))
    opener, closer = draw(st.sampled_from(((b"[", b"]"), (b'{"a":', b"}"))))
    inner = opener * depth + b"1" + closer * depth if opener == b'{"a":' else opener * depth + closer * depth
    field = draw(st.sampled_from(FIELDS)).encode()
    return b'{"' + field + b'":' + inner + b"}"


@st.composite
def hostile_json(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(("surrogate", "deep", "count")))
    if kind == "deep":
        return draw(deep_json())
    if kind == "count":
        n = draw(st.sampled_from((101, 1000, 40_000, 250_000)))
        ids = [draw(st.sampled_from(("file-x", "a")))] * n if draw(st.booleans()) else [f"f{i}" for i in range(n)]
        return json.dumps(
            {"model": "qwen-turbo", draw(st.sampled_from(("training_file_ids", "validation_file_ids"))): ids}
        ).encode()
    body = draw(st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=3))
    body[draw(st.sampled_from(FIELDS))] = draw(hostile_value)
    return json.dumps(body).encode()


query = st.dictionaries(
    st.one_of(
        st.sampled_from(
            (
                "page_no",
                "page_size",
                "page",
                "size",
                "offset",
                "line",
                "model",
                "api_key",
                "workspace",
                "status",
                "tenant",
            )
        ),
        text,
    ),
    st.one_of(st.integers(-(10**20), 10**20).map(str), text),
    max_size=4,
)


@st.composite
def headers(draw: st.DrawFn) -> dict[str, str | bytes]:
    out: dict[str, str | bytes] = {}
    auth = draw(st.sampled_from(("valid", "none", "scheme", "garbage")))
    if auth == "valid":
        out["Authorization"] = f"Bearer {API_KEY}"
    elif auth == "scheme":
        out["Authorization"] = draw(st.sampled_from(("Basic abc", "Bearer", "Bearer  ", "bearer a b")))
    elif auth == "garbage":
        out["Authorization"] = draw(header_value)
    if draw(st.booleans()):
        out["X-DashScope-WorkSpace"] = draw(st.one_of(st.sampled_from(("ws-1", "", " ", "a" * 65)), header_value))
    if draw(st.booleans()):
        out["X-DashScope-SSE"] = "enable"
    if draw(st.integers(0, 9)) == 0:  # hostile headers: huge values (in-process, past any server limit), many of them
        size = draw(st.sampled_from((8 * 1024, 100 * 1024)))
        out[draw(st.sampled_from(("X-Big", "Content-Type", "X-DashScope-WorkSpace", "Authorization")))] = "h" * size
        for i in range(draw(st.integers(0, 50))):
            out[f"X-Many-{i}"] = "v"
    return out


@st.composite
def body(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(("none", "json", "raw", "multipart", "wrong-type", "hostile", "boundary")))
    if kind == "hostile":
        return {"content": draw(hostile_json()), "headers": {"Content-Type": "application/json"}}
    if kind == "boundary":
        boundary = "b" * draw(st.sampled_from((70, 200, 201, 256, 257, 300, 2000)))
        part = 'Content-Disposition: form-data; name="files"; filename="a.jsonl"\r\n\r\nx'
        content = f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n"
        return {"content": content.encode(), "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}
    if kind == "json":
        return {"content": json.dumps(draw(json_body)).encode(), "headers": {"Content-Type": "application/json"}}
    if kind == "raw":
        return {
            "content": draw(st.binary(max_size=200)),
            "headers": {
                "Content-Type": draw(
                    st.sampled_from(
                        (
                            "application/json",
                            "multipart/form-data",
                            "multipart/form-data; boundary=xyz",
                            "text/plain",
                            "application/octet-stream",
                        )
                    )
                )
            },
        }
    if kind == "multipart":
        files = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(("files", "file", "other")),
                    text.map(lambda s: s or "f"),
                    st.one_of(st.binary(max_size=300), st.just((DATASETS / "sft_basic.jsonl").read_bytes()[:400])),
                ),
                max_size=3,
            )
        )
        data = draw(st.dictionaries(st.sampled_from(("purpose", "descriptions", "description", "x")), text, max_size=2))
        return {"files": [(field, (name, content)) for field, name, content in files] or None, "data": data}
    if kind == "wrong-type":
        return {"content": json.dumps(draw(json_body)).encode(), "headers": {"Content-Type": "text/plain"}}
    return {}


@st.composite
def requests(draw: st.DrawFn, target: Target) -> tuple[str, str, dict[str, Any]]:
    path, methods = draw(st.sampled_from(_routes(target)))
    method = draw(st.one_of(st.sampled_from(methods), st.sampled_from(METHODS)))
    if (path, method) in EXCLUDED:
        method = "GET"
    streaming = path.endswith(STREAMS)
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        known = target.ids.get(name, [])
        value = draw(
            st.sampled_from(known)
            if streaming and known
            else st.one_of(st.sampled_from(known), text, surrogate_text)
            if known
            else st.one_of(text, surrogate_text)
        )
        raw = value.encode("utf-8", "surrogatepass")  # a lone surrogate percent-encoded as invalid UTF-8
        path = path.replace("{" + name + "}", quote(raw, safe="") or "x")
    kwargs = draw(body())
    extra = draw(headers())
    kwargs["headers"] = {**extra, **kwargs.get("headers", {})}
    kwargs["params"] = draw(query)
    return method, path, kwargs


# ---------------------------------------------------------------- checks


def _is_json_api(path: str) -> bool:
    return path.startswith(("/api/", "/compatible-mode/")) or (
        path.startswith("/_emulator/") and not path.startswith(("/_emulator/dashboard", "/_emulator/static"))
    )


def check_response(method: str, path: str, response: httpx.Response) -> None:
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:500]}"
    if response.status_code < 400 or method == "HEAD" or not _is_json_api(path):
        return
    body = response.json()
    rid = response.headers.get("x-request-id")
    if path.startswith("/compatible-mode/") and not path.startswith(FLAT_ERROR_PREFIX):  # Responses: flat
        error = body["error"]
        assert error["message"] and error["type"] and "code" in error, body
    else:
        assert body["code"] and body["message"], body
    assert body["request_id"] and body["request_id"] == rid, (body, rid)


def test_every_route_answers_bad_input_within_the_error_model(target: Target) -> None:
    @FUZZ
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        method, path, kwargs = data.draw(requests(target))
        check_response(method, path, target.request(method, path, **kwargs))

    probe()


@FUZZ
@given(method=st.sampled_from(METHODS), raw=st.text(max_size=60), params=query)
def test_unknown_and_odd_paths_are_errors_in_the_model(
    target: Target, method: str, raw: str, params: dict[str, str]
) -> None:
    for prefix in ("/api/v1/", "/compatible-mode/v1/", "/_emulator/", "/"):
        path = prefix + quote(raw, safe="/")
        response = target.request(method, path, params=params, headers={"Authorization": f"Bearer {API_KEY}"})
        check_response(method, path, response)


JSON_ROUTES = (
    ("POST", "/api/v1/fine-tunes"),
    ("POST", "/api/v1/deployments"),
    ("PUT", "/api/v1/deployments/{deployed_model}/scale"),
    ("POST", "/api/v1/services/aigc/text-generation/generation"),
    ("POST", "/compatible-mode/v1/chat/completions"),
    ("POST", "/_emulator/clock"),
    ("POST", "/_emulator/clock/advance"),
    ("POST", "/_emulator/seed"),
    ("POST", "/_emulator/snapshot"),
    ("POST", "/_emulator/fine-tunes/{job_id}/status"),
)


@FUZZ
@given(route=st.sampled_from(JSON_ROUTES), content=hostile_json(), extra=headers())
def test_json_routes_refuse_hostile_bodies(
    target: Target, route: tuple[str, str], content: bytes, extra: dict[str, str | bytes]
) -> None:
    """Every body a JSON route takes goes through one reader: deep, surrogate-laden or huge, a 4xx every time."""
    method, path = route
    path = path.replace("{deployed_model}", "qwen-turbo").replace("{job_id}", target.ids["job_id"][0])
    response = target.request(method, path, content=content, headers={**extra, "Content-Type": "application/json"})
    check_response(method, path, response)


def test_the_server_is_healthy_afterwards(target: Target) -> None:
    health = target.request("GET", "/_emulator/health").json()
    assert health["status"] == "ok" and health["internal_errors"] == 0
    listed = target.request("GET", "/api/v1/fine-tunes", headers={"Authorization": f"Bearer {API_KEY}"})
    assert listed.status_code == 200
