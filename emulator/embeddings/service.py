"""Embedding and rerank: checks to the documented limits and the answers' items.  Plain values in, ApiError out.

Vectors come from ``synth.vectors`` (hashed word and n-gram features, unit norm): identical texts give identical
vectors, texts that share words are closer.  A vector's JSON is kept (``vector_json``, bounded LRU) because a
client embeds the same texts again and again (a corpus re-indexed, a query repeated), and rendering a vector is
the bulk of an embedding request's cost.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from emulator.embeddings.specs import (
    MULTIMODAL_MODELS,
    RERANK_DIMENSION,
    RERANK_MODELS,
    RERANK_SPACE,
    TEXT_MODELS,
    MultimodalModel,
    RerankModel,
    TextModel,
)
from emulator.errors import EmptyInput, EmptyModel, InvalidParameter, ModelNotExist
from emulator.synth import vectors
from emulator.synth.tokens import count_tokens

URL_ERROR = "url error, please check url！"
TEXT_TYPES = ("query", "document")
OUTPUT_TYPES = ("dense", "sparse", "dense&sparse")


def batch_too_large(limit: int, field: str = "input.contents") -> InvalidParameter:
    return InvalidParameter(f"Value error, batch size is invalid, it should not be larger than {limit}.: {field}")


def batch_empty(field: str = "input.contents") -> InvalidParameter:
    return InvalidParameter(f"Value error, batch size is invalid, it should not be smaller than 1.: {field}")


def too_long(limit: int) -> InvalidParameter:
    return InvalidParameter(f"Range of input length should be [1, {limit}]")


@functools.lru_cache(maxsize=1024)
def vector_json(text: str, dim: int, space: str) -> bytes:
    """The vector's JSON as bytes (ASCII): answers are joined from these once, never re-encoded."""
    return vectors.embed_json(text, dim, space).encode()


def vector_floats(text: str, dim: int, space: str) -> list[float]:
    return vectors.floats(vectors.embed(text, dim, space))


def vector_base64(text: str, dim: int, space: str) -> str:
    return base64.b64encode(vectors.to_base64_bytes(vectors.embed(text, dim, space))).decode()


# ------------------------------------------------------------------------------------------------ text embedding


class TextJob(NamedTuple):  # a tuple: made once per request, and a frozen dataclass costs five setattrs
    model: TextModel
    texts: list[str]
    dimension: int
    output_type: str
    tokens: int


def text_model(model: object) -> TextModel:
    if model in (None, ""):
        raise EmptyModel()
    if not isinstance(model, str):
        raise InvalidParameter("model must be a string.", param="model")
    spec = TEXT_MODELS.get(model)
    if spec is None:
        if model in MULTIMODAL_MODELS or model in RERANK_MODELS:
            raise InvalidParameter(URL_ERROR)
        raise ModelNotExist()
    return spec


def check_texts(spec: TextModel, texts: object, field: str | None = None) -> tuple[list[str], int]:
    """The texts and their tokens, to the model's batch size and per-text length."""
    field = field or spec.rows_field
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list):
        raise InvalidParameter(f"Value error, input should be a string or a list of strings.: {field}")
    if not texts:
        raise batch_empty(field)
    if len(texts) > spec.max_rows:
        raise batch_too_large(spec.max_rows, field)
    total = 0
    longest = 4 * spec.max_tokens
    for text in texts:
        if not isinstance(text, str):
            raise InvalidParameter(f"Value error, input should be a string or a list of strings.: {field}")
        if not text:
            raise batch_empty(field)
        size = len(text)
        if size > longest:
            raise too_long(spec.max_tokens)
        if text.isascii():  # ``count_tokens``'s rule for text without CJK, within the limit by the check above
            total += (size + 3) // 4
            continue
        tokens = count_tokens(text)
        if tokens > spec.max_tokens:
            raise too_long(spec.max_tokens)
        total += tokens
    return texts, total


def check_dimension(dimensions: Sequence[int], default: int, value: object, field: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value not in dimensions:
        choices = ", ".join(str(d) for d in dimensions)
        raise InvalidParameter(f"Value error, dimension is invalid, it should be one of [{choices}].: {field}")
    return value


def text_job(body: dict[str, Any]) -> TextJob:
    spec = text_model(body.get("model"))
    given = body.get("input")
    if not isinstance(given, dict) or not given:
        raise EmptyInput()
    texts, tokens = check_texts(spec, given.get("texts", given.get("contents")))
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidParameter("parameters must be an object.", param="parameters")
    text_type = params.get("text_type")
    if text_type is not None and text_type not in TEXT_TYPES:
        raise InvalidParameter(
            "Value error, text_type should be one of ['query', 'document'].: parameters.text_type",
            param="parameters.text_type",
        )
    if len(spec.dimensions) > 1:
        dimension = check_dimension(
            spec.dimensions, spec.default_dimension, params.get("dimension"), "parameters.dimension"
        )
    else:
        dimension = spec.default_dimension  # v1/v2 ignore ``dimension`` (reference §6.4)
    output_type = params.get("output_type") or "dense"
    if output_type not in OUTPUT_TYPES:
        raise InvalidParameter(
            "Value error, output_type should be one of ['dense', 'sparse', 'dense&sparse'].: parameters.output_type",
            param="parameters.output_type",
        )
    if not spec.sparse:
        output_type = "dense"
    instruct = params.get("instruct")
    if instruct is not None and not isinstance(instruct, str):
        raise InvalidParameter("Value error, instruct should be a string.: parameters.instruct")
    return TextJob(spec, texts, dimension, output_type, tokens)


VOCABULARY = 151643
"""Qwen's vocabulary size: a word's sparse ``index`` is the tokenizer's id of it (``generation.tokenizer``)."""


def token_id(piece: str) -> int:
    """``generation.tokenizer.token_id``, restated here: the tokenizer is a route module, and a resource's service
    does not import another resource's routes."""
    return int.from_bytes(hashlib.md5(piece.encode("utf-8", "surrogatepass")).digest()[:4], "big") % VOCABULARY


def sparse_embedding(text: str) -> list[dict[str, Any]]:
    """One entry per distinct word, weighted by its count (reference §10 Q4's shape)."""
    counts: dict[str, int] = {}
    for word in vectors.words(text):
        counts[word] = counts.get(word, 0) + 1
    return [
        {"index": token_id(word), "value": round(min(1.0, 0.2 + 0.3 * math.log1p(n)), 4), "token": word}
        for word, n in counts.items()
    ]


_MOST_ROWS = max(spec.max_rows for spec in TEXT_MODELS.values())
_DENSE_BETWEEN = tuple(b',"text_index":%d},{"embedding":' % i for i in range(_MOST_ROWS))
_DENSE_LAST = tuple(b',"text_index":%d}]' % i for i in range(_MOST_ROWS))


def text_items_json(job: TextJob) -> list[bytes]:
    """The ``output.embeddings`` array's JSON, in pieces to be joined once (``b"".join``): no 8 KB vector is
    copied more than that one time."""
    dimension, space = job.dimension, job.model.space
    if job.output_type == "dense" and len(job.texts) <= _MOST_ROWS:  # the usual answer: two pieces an item
        pieces = [b'[{"embedding":']
        for index, text in enumerate(job.texts):
            pieces += (vector_json(text, dimension, space), _DENSE_BETWEEN[index])
        pieces[-1] = _DENSE_LAST[len(job.texts) - 1]
        return pieces
    pieces = [b"["]
    for index, text in enumerate(job.texts):
        pieces.append(b"{" if index == 0 else b",{")
        if job.output_type != "sparse":
            pieces += (b'"embedding":', vector_json(text, dimension, space), b",")
        if job.output_type != "dense":
            sparse = json.dumps(sparse_embedding(text), ensure_ascii=False, separators=(",", ":")).encode()
            pieces += (b'"sparse_embedding":', sparse, b",")
        pieces.append(b'"text_index":%d}' % index)
    pieces.append(b"]")
    return pieces


# ------------------------------------------------------------------------------------------ compatible embeddings


def compatible_job(body: dict[str, Any]) -> tuple[TextJob, bool]:
    """A ``/compatible-mode/v1/embeddings`` body: the job, and whether the answer is base64."""
    spec = text_model(body.get("model"))
    given = body.get("input")
    if given is None:
        raise batch_empty()
    texts, tokens = check_texts(spec, given, "input.contents")
    if len(spec.dimensions) > 1:
        dimension = check_dimension(spec.dimensions, spec.default_dimension, body.get("dimensions"), "dimensions")
    else:
        dimension = spec.default_dimension
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidParameter(
            f"Value error, encoding_format should be 'float' or 'base64' (got {encoding!r}).: encoding_format"
        )
    return TextJob(spec, texts, dimension, "dense", tokens), encoding == "base64"


def compatible_items_json(job: TextJob, base64_format: bool) -> list[bytes]:
    """The ``data`` array's JSON, in pieces to be joined once."""
    pieces: list[bytes] = [b"["]
    for index, text in enumerate(job.texts):
        if base64_format:
            embedding = b'"' + vector_base64(text, job.dimension, job.model.space).encode() + b'"'
        else:
            embedding = vector_json(text, job.dimension, job.model.space)
        pieces += (b'{"embedding":' if index == 0 else b',{"embedding":', embedding)
        pieces.append(b',"index":%d,"object":"embedding"}' % index)
    pieces.append(b"]")
    return pieces


# ------------------------------------------------------------------------------------------ multimodal embedding

_MEDIA_KEYS = ("text", "image", "video", "audio", "multi_images")


@dataclass(frozen=True)
class MultimodalJob:
    model: MultimodalModel
    contents: list[tuple[str, str]]
    """(type, what the vector is made of): a text, or the media reference (its URL's words make it findable)."""
    dimension: int
    fusion: bool
    tokens: int
    images: int
    duration: int


def multimodal_job(body: dict[str, Any]) -> MultimodalJob:
    model = body.get("model")
    if model in (None, ""):
        raise EmptyModel()
    spec = MULTIMODAL_MODELS.get(model) if isinstance(model, str) else None
    if spec is None:
        if isinstance(model, str) and (model in TEXT_MODELS or model in RERANK_MODELS):
            raise InvalidParameter(URL_ERROR)
        raise ModelNotExist()
    given = body.get("input")
    if not isinstance(given, dict) or not given:
        raise EmptyInput()
    raw = given.get("contents")
    if not isinstance(raw, list):
        raise EmptyInput()
    if not raw:
        raise batch_empty()
    if len(raw) > spec.max_items:
        raise batch_too_large(spec.max_items)
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidParameter("parameters must be an object.", param="parameters")
    dimension = check_dimension(
        spec.dimensions, spec.default_dimension, params.get("dimension"), "parameters.dimension"
    )
    fusion = bool(params.get("enable_fusion")) and spec.fusion
    contents: list[tuple[str, str]] = []
    tokens = images = 0
    for position, item in enumerate(raw):
        kind, value = _content(item, position)
        if kind == "text":
            tokens += count_tokens(value)
        elif kind in ("image", "multi_images"):
            images += 1
        contents.append((kind, value))
    return MultimodalJob(spec, contents, dimension, fusion, tokens, images, 0)


def _content(item: object, position: int) -> tuple[str, str]:
    where = f"input.contents[{position}]"
    if not isinstance(item, dict):
        raise InvalidParameter(f"Value error, each content should be an object.: {where}")
    kinds = [k for k in _MEDIA_KEYS if k in item]
    if len(kinds) != 1:
        raise InvalidParameter(f"Value error, each content needs exactly one of text, image, video, audio.: {where}")
    kind = kinds[0]
    value = item[kind]
    if kind == "multi_images":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise InvalidParameter(f"Value error, multi_images should be a list of image URLs.: {where}")
        return kind, " ".join(value)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(f"Value error, {kind} should be a non-empty string.: {where}")
    if kind != "text" and not value.startswith(("http://", "https://", "data:", "oss://")):
        raise InvalidParameter(URL_ERROR)
    if kind != "text" and value.startswith("data:"):
        value = value[:256]  # a data URI's head names its type; its bytes are the vector's only if short
    return kind, value


def multimodal_output(job: MultimodalJob) -> dict[str, Any]:
    space = "mm:" + job.model.id
    if job.model.fused or job.fusion:
        fused = " ".join(value for _, value in job.contents)
        vector = vector_floats(fused, job.dimension, space)
        if job.model.fused:
            return {"embedding": vector}
        return {"embeddings": [{"index": 0, "embedding": vector, "type": "fusion"}]}
    return {
        "embeddings": [
            {"index": i, "embedding": vector_floats(value, job.dimension, space), "type": kind}
            for i, (kind, value) in enumerate(job.contents)
        ]
    }


# ------------------------------------------------------------------------------------------------------- rerank


@dataclass(frozen=True)
class RerankJob:
    model: RerankModel
    query: str
    documents: list[Any]
    texts: list[str]
    top_n: int
    return_documents: bool
    tokens: int


def rerank_model(model: object, *, compatible: bool) -> RerankModel:
    if model in (None, ""):
        raise EmptyModel()
    spec = RERANK_MODELS.get(model) if isinstance(model, str) else None
    if spec is None or (compatible and not spec.compatible):
        raise ModelNotExist()
    return spec


def rerank_job(
    model: object, query: object, documents: object, top_n: object, return_documents: object, *, compatible: bool
) -> RerankJob:
    spec = rerank_model(model, compatible=compatible)
    query_text = _rerank_text(query, "query", spec)
    if not isinstance(documents, list) or not documents:
        raise EmptyInput()
    if len(documents) > spec.max_documents:
        raise InvalidParameter(
            f"Value error, documents size is invalid, it should not be larger than {spec.max_documents}.: "
            "input.documents"
        )
    texts = [_rerank_text(d, "documents", spec) for d in documents]
    if top_n is None:
        n = len(documents)
    elif isinstance(top_n, bool) or not isinstance(top_n, int):
        raise InvalidParameter("Value error, top_n should be an integer.: parameters.top_n")
    elif top_n < 1:
        raise InvalidParameter("Value error, top_n should be >= 1.: parameters.top_n")
    else:
        n = min(top_n, len(documents))
    if return_documents is not None and not isinstance(return_documents, bool):
        raise InvalidParameter("Value error, return_documents should be a boolean.: parameters.return_documents")
    query_tokens = count_tokens(query_text)
    tokens = query_tokens * len(texts) + sum(count_tokens(t) for t in texts)
    if tokens > spec.max_tokens:
        raise InvalidParameter(f"Range of input length should be [1, {spec.max_tokens}]")
    return RerankJob(spec, query_text, documents, texts, n, bool(return_documents), tokens)


def _rerank_text(value: object, field: str, spec: RerankModel) -> str:
    """A text model's query or document is a string; qwen3-vl-rerank also takes ``{"text"|"image"|"video": ...}``."""
    if isinstance(value, str):
        if not value:
            raise EmptyInput()
        return value
    if spec.id == "qwen3-vl-rerank" and isinstance(value, dict):
        for key in ("text", "image", "video"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
    if value in (None, ""):
        raise EmptyInput()
    raise InvalidParameter(f"Value error, {field} should be strings.: input.{field}")


def relevance(query: str, document: str) -> float:
    """A score in (0, 1) rising with the texts' shared words and word pieces (a logistic of their cosine)."""
    q = _rerank_vector(query)
    d = _rerank_vector(document)
    cos = vectors.cosine(q, d)
    return 1.0 / (1.0 + math.exp(-(9.0 * cos - 3.5)))


@functools.lru_cache(maxsize=4096)
def _rerank_vector(text: str) -> list[int]:
    return vectors.embed(text, RERANK_DIMENSION, RERANK_SPACE)


def rerank_results(job: RerankJob) -> list[dict[str, Any]]:
    """Best first (ties by input position), ``top_n`` of them."""
    scored = sorted(
        ((relevance(job.query, text), index) for index, text in enumerate(job.texts)), key=lambda p: (-p[0], p[1])
    )
    results = []
    for score, index in scored[: job.top_n]:
        item: dict[str, Any] = {"index": index, "relevance_score": score}
        if job.return_documents:
            doc = job.documents[index]
            item = {"document": {"text": doc} if isinstance(doc, str) else doc, **item}
        results.append(item)
    return results
