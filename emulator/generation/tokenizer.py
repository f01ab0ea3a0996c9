"""``POST /api/v1/tokenizer`` (reference §6.1): the tokens of a prompt, by the same estimate every count here uses.

``synth.tokens.count_tokens`` is the emulator's tokenizer in all but name (one token per CJK character, about four
characters per token otherwise): dataset checks, usage and this endpoint agree, so ``usage.input_tokens`` here
equals the sum of ``count_tokens`` over the messages' text.  The pieces are contiguous slices of the text (CJK
characters alone; other runs in four-character pieces, a run's short tail joined to its neighbour so the number of
pieces is exactly the count); ids are a stable hash of the piece into Qwen's 151,643-entry vocabulary.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter
from emulator.generation.schemas import SamplingFields, parse
from emulator.http import envelope, read_json_object
from emulator.services import services
from emulator.synth.tokens import tokenize
from emulator.wire import WireModel

VOCABULARY = 151643
MAX_INPUT_BYTES = 1024 * 1024
"""UTF-8 bytes the endpoint tokenizes at most (checked before tokenizing): the answer is ~3 times its input, and a
model's context window (10M tokens for qwen-long) is no bound on a request's cost."""
OFF_LOOP_CHARS = 64 * 1024


class TokenizerInput(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None


class TokenizerRequest(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    model: str = Field(min_length=1, max_length=256)
    input: TokenizerInput
    parameters: SamplingFields = Field(default_factory=SamplingFields)


class TokenizerOutput(WireModel):
    token_ids: list[int]
    tokens: list[str]


class TokenizerUsage(WireModel):
    input_tokens: int


class TokenizerResponse(WireModel):
    request_id: str
    output: TokenizerOutput
    usage: TokenizerUsage


def token_id(piece: str) -> int:
    return int.from_bytes(hashlib.md5(piece.encode("utf-8", "surrogatepass")).digest()[:4], "big") % VOCABULARY


async def tokenizer(request: Request) -> JSONResponse:
    body = await read_json_object(request)
    if body.get("model") in (None, ""):
        raise EmptyModel()
    if not isinstance(body.get("input"), dict) or not body["input"]:
        raise EmptyInput()
    req = parse(TokenizerRequest, body)
    texts = _texts(req.input)
    target = await services(request).generation.resolve(caller(request), req.model)
    size = sum(len(t) for t in texts)
    if size > 4 * target.context_window:
        raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="input")
    if size > MAX_INPUT_BYTES // 4 and sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) > MAX_INPUT_BYTES:
        raise InvalidParameter(f"The input is larger than {MAX_INPUT_BYTES} bytes of UTF-8.", param="input")
    if size > OFF_LOOP_CHARS:  # linear, but a megabyte is still ~100 ms of work: off the event loop
        tokens, ids = await asyncio.to_thread(_tokens, texts)
    else:
        tokens, ids = _tokens(texts)
    if len(tokens) > target.context_window:
        raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="input")
    output = {"token_ids": ids, "tokens": tokens}
    return envelope(request, "output", output, usage={"input_tokens": len(tokens)})


def _tokens(texts: list[str]) -> tuple[list[str], list[int]]:
    tokens = [piece for text in texts for piece in tokenize(text)]
    return tokens, [token_id(t) for t in tokens]


def _texts(given: TokenizerInput) -> list[str]:
    if given.messages:
        texts = [_text(m.get("content")) for m in given.messages]
    elif given.prompt:
        texts = [given.prompt]
    else:
        raise EmptyInput()
    if not any(texts):
        raise EmptyInput()
    return texts


def _text(content: object) -> str:
    """A string, or the text parts of a DashScope (``{"text": ..}``) or OpenAI part list, joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
