"""``POST /api/v1/tokenizer`` (reference §6.1): the tokens of a prompt, by the same estimate every count here uses.

``synth.tokens.count_tokens`` is the emulator's tokenizer in all but name (one token per CJK character, about four
characters per token otherwise): dataset checks, usage and this endpoint agree, so ``usage.input_tokens`` here
equals the sum of ``count_tokens`` over the messages' text.  The pieces are contiguous slices of the text (CJK
characters alone; other runs in four-character pieces, a run's short tail joined to its neighbour so the number of
pieces is exactly the count); ids are a stable hash of the piece into Qwen's 151,643-entry vocabulary.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from emulator.context import caller
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter
from emulator.generation.schemas import SamplingFields, parse
from emulator.http import envelope, read_json_object
from emulator.openapi import Operation
from emulator.services import services
from emulator.synth.tokens import _CJK as _CJK_RE  # the very class count_tokens counts
from emulator.synth.tokens import count_tokens
from emulator.wire import WireModel

VOCABULARY = 151643


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


def tokenize(text: str) -> list[str]:
    """Contiguous pieces of ``text``, exactly ``count_tokens(text)`` of them."""
    pieces: list[str] = []
    run = ""
    for char in text:
        if _CJK_RE.match(char):
            pieces += _chunks(run)
            pieces.append(char)
            run = ""
        else:
            run += char
    pieces += _chunks(run)
    target = count_tokens(text)
    index = 0
    while len(pieces) > target and index < len(pieces) - 1:
        piece = pieces[index]
        if len(piece) < 4 and not _CJK_RE.match(piece[0]):
            pieces[index : index + 2] = [piece + pieces[index + 1]]  # a short tail joins its neighbour
        else:
            index += 1
    return pieces


def _chunks(run: str) -> list[str]:
    return [run[i : i + 4] for i in range(0, len(run), 4)]


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
    if sum(len(t) for t in texts) > 4 * target.context_window:
        raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="input")
    tokens = [piece for text in texts for piece in tokenize(text)]
    if len(tokens) > target.context_window:
        raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="input")
    output = {"token_ids": [token_id(t) for t in tokens], "tokens": tokens}
    return envelope(request, "output", output, usage={"input_tokens": len(tokens)})


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


operations = [
    Operation(
        "POST",
        "/api/v1/tokenizer",
        "Tokenize a prompt (the counts generation usage and dataset checks use)",
        "generation",
        endpoint=tokenizer,
        request=TokenizerRequest,
        response=TokenizerResponse,
        envelope="raw",
        description="`input.messages` (their text) or `input.prompt`; answers `output.tokens`, `output.token_ids` "
        "and `usage.input_tokens`.",
    ),
]
