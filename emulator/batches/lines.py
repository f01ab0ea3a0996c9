"""A batch's lines: the checks of the input file (reference §9.4-§9.5) and the answer to each line.

``validate`` runs in a worker thread over the file one line at a time (a line past 6 MB is refused without being
read whole); ``compatible_chat_completion`` is the one seam between Batch and the generation pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.context import RequestContext
from emulator.embeddings import service as embeddings
from emulator.errors import ApiError, InvalidParameter
from emulator.generation import compatible
from emulator.generation.service import GenerationService
from emulator.tenants import Tenant

MAX_LINES = 50_000
MAX_LINE_BYTES = 6 * 1024 * 1024
MAX_FILE_BYTES = 500 * 1024 * 1024
TEST_MODEL = "batch-test-model"
TEST_URL = "/v1/chat/ds-test"
TEST_MAX_LINES = 100
TEST_MAX_BYTES = 1024 * 1024
TEST_ANSWER = "This is a test result."
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", TEST_URL)
EMBEDDING_MODELS = ("text-embedding-v4",)
MAX_ERRORS = 1000
"""Validation errors kept for ``errors.data`` (the rest are counted, not listed)."""


@dataclass
class Checked:
    lines: int = 0
    model: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, code: str, message: str, line: int, param: str | None = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def validate(path: Path, endpoint: str, known_model: Any) -> Checked:
    """Every line: JSON object, unique ``custom_id``, ``method`` POST, ``url`` the batch's endpoint, ``body`` with
    one model for the whole file; and the file's own limits.  ``known_model(name)`` says whether a model may run."""
    checked = Checked()
    size = path.stat().st_size
    test = endpoint == TEST_URL
    if size > MAX_FILE_BYTES or (test and size > TEST_MAX_BYTES):
        limit = TEST_MAX_BYTES if test else MAX_FILE_BYTES
        checked.fail("file_too_large", f"The input file is larger than {limit} bytes.", 0)
        return checked
    seen: set[str] = set()
    with path.open("rb") as src:
        while True:
            raw = src.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            checked.lines += 1
            number = checked.lines
            if len(raw) > MAX_LINE_BYTES:
                checked.fail("line_too_large", f"Line is larger than {MAX_LINE_BYTES} bytes.", number)
                while raw and not raw.endswith(b"\n"):
                    raw = src.readline(MAX_LINE_BYTES)
                continue
            if not raw.strip():
                checked.lines -= 1  # blank lines (a trailing newline) are not requests
                continue
            _check_line(raw, number, endpoint, checked, seen, known_model)
            if checked.lines > (TEST_MAX_LINES if test else MAX_LINES):
                limit = TEST_MAX_LINES if test else MAX_LINES
                code = "too_many_tasks" if test else "too_many_requests"
                checked.fail(code, f"The input file has more than {limit} requests.", number)
                return checked
    if checked.lines == 0:
        checked.fail("empty_file", "The input file has no request.", 0)
    return checked


def _check_line(raw: bytes, number: int, endpoint: str, checked: Checked, seen: set[str], known_model: Any) -> None:
    try:
        line = json.loads(raw)
    except ValueError:
        checked.fail("invalid_json_line", "Line is not valid JSON.", number)
        return
    if not isinstance(line, dict):
        checked.fail("invalid_json_line", "Line is not valid JSON.", number)
        return
    _check_custom_id(line.get("custom_id"), number, checked, seen)
    if line.get("method") != "POST":
        checked.fail("invalid_method", "The method must be 'POST'.", number, "method")
    url = line.get("url")
    body = line.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    if url not in ENDPOINTS:
        checked.fail("url_not_found", f"The provided url '{url}' is not supported by the Batch API.", number, "url")
    elif model == TEST_MODEL and url != TEST_URL:
        message = f"The provided URL '{url}' does not match the test model '{TEST_MODEL}'."
        checked.fail("mismatched_test_url", message, number, "url")
    elif url != endpoint:
        checked.fail(
            "mismatched_endpoint", f"The url '{url}' does not match the batch endpoint '{endpoint}'.", number, "url"
        )
    if not isinstance(body, dict):
        checked.fail("invalid_body", "The body must be a JSON object.", number, "body")
        return
    if not isinstance(model, str) or not model:
        checked.fail("missing_model", "The body must name a model.", number, "body.model")
        return
    if checked.model is None:
        checked.model = model
        if not known_model(model, url):
            checked.fail(
                "model_not_found", f"The model '{model}' is not supported by the Batch API.", number, "body.model"
            )
    elif model != checked.model:
        checked.fail("mismatched_model", "All requests in a file must use the same model.", number, "body.model")


def _check_custom_id(custom_id: object, number: int, checked: Checked, seen: set[str]) -> None:
    if not isinstance(custom_id, str) or not custom_id:
        checked.fail("missing_custom_id", "The custom_id must be a non-empty string.", number, "custom_id")
    elif custom_id in seen:
        checked.fail("duplicate_custom_id", f"The custom_id '{custom_id}' is duplicated.", number, "custom_id")
    else:
        seen.add(custom_id)


async def compatible_chat_completion(
    gen: GenerationService,
    tenant: Tenant,
    body: dict[str, Any],
    request_id: str,
    created: int,
    ctx: RequestContext | None = None,
) -> dict[str, Any]:
    """The one seam between Batch and generation: a compatible chat completion's answer (non-streaming), or an
    ``ApiError``, from the very pipeline ``POST /compatible-mode/v1/chat/completions`` uses (``ctx``: the line's
    context, on which a generation rule that answers, or comes close, is noted)."""
    return await compatible.chat_completion(gen, tenant, body, request_id, created, ctx=ctx)


def test_model_answer(body: dict[str, Any], request_id: str, created: int) -> dict[str, Any]:
    """What ``batch-test-model`` answers every line (the doc's example: no ``role``)."""
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [] if isinstance(m, dict))
    usage = {"completion_tokens": 6, "prompt_tokens": max(1, prompt // 4), "total_tokens": 6 + max(1, prompt // 4)}
    choice = {"finish_reason": "stop", "index": 0, "message": {"content": TEST_ANSWER}}
    return {
        "created": created,
        "usage": usage,
        "model": TEST_MODEL,
        "id": f"chatcmpl-{request_id}",
        "choices": [choice],
        "object": "chat.completion",
    }


def embedding_answer(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    try:
        job, base64_format = embeddings.compatible_job(body)
    except ApiError as exc:
        raise InvalidParameter(exc.message) from None
    items = json.loads(b"".join(embeddings.compatible_items_json(job, base64_format)))
    usage = {"prompt_tokens": job.tokens, "total_tokens": job.tokens}
    return {"data": items, "model": job.model.id, "object": "list", "usage": usage, "id": request_id}
