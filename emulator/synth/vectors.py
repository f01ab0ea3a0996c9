"""Deterministic, meaningful embedding vectors: hashed word and character n-gram features.

A text's vector is the sum of one signed unit per feature (its words, and the character trigrams of each word;
CJK text gives its characters and their bigrams), each feature hashed to two positions by a fixed BLAKE2b hash
(the same with or without ``--seed``: a vector is a function of the text, the model and the dimension only), plus
a faint dense background picked by the text's own hash so the vector is dense like a real one.  The result has
unit norm; identical texts give identical vectors; texts that share words or word pieces are closer than
unrelated ones, so a retrieval test can assert its order.

Every component is a multiple of ``STEP`` (five decimals): a vector's JSON is joined from preformatted components
(``_FORMATTED``) instead of formatting ten thousand floats (``render``), the one cost that would otherwise
dominate an embedding request.  The norm stays within 1e-5 of 1.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
import struct

STEP = 1e-5
_SCALE = 100_000
_WORD = re.compile(r"[0-9a-z]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_BACKGROUND = 0.24
"""Share of the dense background in every vector (its norm): unrelated texts stay near cosine 0."""
_MAX_FEATURES = 4096
"""A long text's vector is built from its first features: bounded cost per text whatever its length."""


def words(text: str) -> list[str]:
    """The text's words: runs of ASCII letters and digits (lowercased), and runs of CJK characters."""
    return _WORD.findall(text.lower())


def features(text: str) -> dict[str, float]:
    """Weighted features: each word (1.0) and its character trigrams (0.5); CJK characters (0.7) and bigrams (1.0)."""
    found: dict[str, float] = {}
    for word in words(text):
        if _CJK.match(word):
            for i, char in enumerate(word):
                found["c:" + char] = found.get("c:" + char, 0.0) + 0.7
                if i + 1 < len(word):
                    pair = "w:" + word[i : i + 2]
                    found[pair] = found.get(pair, 0.0) + 1.0
        else:
            key = "w:" + word
            found[key] = found.get(key, 0.0) + 1.0
            marked = f"#{word}#"
            for i in range(len(marked) - 2):
                gram = "g:" + marked[i : i + 3]
                found[gram] = found.get(gram, 0.0) + 0.5
        if len(found) >= _MAX_FEATURES:
            break
    return found


@functools.lru_cache(maxsize=65536)
def _positions(space: str, feature: str, dim: int) -> tuple[int, float, int, float]:
    digest = hashlib.blake2b(f"{space}\x00{feature}".encode(), digest_size=16).digest()
    a, b = struct.unpack("<QQ", digest)
    return a % dim, (1.0 if a >> 63 else -1.0), b % dim, (0.5 if b >> 63 else -0.5)


class _Base:
    """A fixed dense unit vector of the dimension, repeated twice: a text's background is the window of it that starts
    at the text's own hash, so every window is a rotation of one vector (same norm), kept quantized and formatted."""

    def __init__(self, dim: int) -> None:
        rng = random.Random(20260407 + dim)
        values = [rng.gauss(0.0, 1.0) for _ in range(dim)]
        norm = math.sqrt(sum(v * v for v in values))
        self.unit = [v / norm for v in values] * 2
        self.ints = [round(_BACKGROUND * _SCALE * v) for v in self.unit]
        self.texts = [_format(q) for q in self.ints]


@functools.cache
def _base(dim: int) -> _Base:
    return _Base(dim)


def _parts(text: str, dim: int, space: str) -> tuple[_Base, int, dict[int, int]]:
    """The background window's start, and the components the features change (as integers), for unit norm.

    The vector is ``a * f/|f| + W * b``: ``b`` a unit window of the background, ``W`` fixed, and ``a`` solved from
    ``a^2 + 2aWd + W^2 = 1`` with ``d`` the features' cosine to the window, read at the sparse positions only.
    """
    sparse: dict[int, float] = {}
    for feature, weight in features(text).items():
        i, si, j, sj = _positions(space, feature, dim)
        sparse[i] = sparse.get(i, 0.0) + si * weight
        sparse[j] = sparse.get(j, 0.0) + sj * weight
    base = _base(dim)
    offset = int.from_bytes(hashlib.blake2b(f"{space}\x00{text}".encode(), digest_size=8).digest(), "little") % dim
    f_norm = math.sqrt(sum(v * v for v in sparse.values()))
    if f_norm == 0:  # no word at all: the background alone, scaled to unit norm
        return base, offset, {i: round(_SCALE * base.unit[offset + i]) for i in range(dim)}
    unit = base.unit
    d = sum(v * unit[offset + i] for i, v in sparse.items()) / f_norm
    w = _BACKGROUND
    a = -w * d + math.sqrt(w * w * d * d - w * w + 1.0)
    k = a * _SCALE / f_norm
    ints = base.ints
    return base, offset, {i: ints[offset + i] + round(k * v) for i, v in sparse.items()}


def embed(text: str, dim: int, space: str = "") -> list[int]:
    """The text's unit vector in ``space`` (a model family), as integer multiples of ``STEP``."""
    base, offset, changed = _parts(text, dim, space)
    vec = base.ints[offset : offset + dim]
    for i, q in changed.items():
        vec[i] = q
    return vec


def embed_json(text: str, dim: int, space: str = "") -> str:
    """``render(embed(text, dim, space))``, joined from the background's preformatted window (no per-component
    Python work but the changed few)."""
    base, offset, changed = _parts(text, dim, space)
    parts = base.texts[offset : offset + dim]
    for i, q in changed.items():
        parts[i] = _format(q)
    return "[" + ",".join(parts) + "]"


def cosine(a: list[int], b: list[int]) -> float:
    """Of two ``embed`` vectors (unit norm to within 1e-5)."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / (_SCALE * _SCALE)


_FORMATTED: dict[int, str] = {}
"""Components already formatted, by their integer: at most ``2 * _SCALE`` entries (a unit vector's components lie
in [-1, 1]), and in practice the few thousand small values backgrounds and features produce."""


def _format(q: int) -> str:
    text = _FORMATTED.get(q)
    if text is None:
        text = _FORMATTED[q] = _short(f"{q / _SCALE:.5f}")
    return text


def _short(text: str) -> str:
    """``0.01230`` as ``0.0123``, ``0.00000`` as ``0.0``: still a float to any JSON reader."""
    trimmed = text.rstrip("0")
    return trimmed + "0" if trimmed.endswith(".") else trimmed


def render(vector: list[int]) -> str:
    """The vector as a JSON array of floats (``[0.01234,-0.0051,...]``): table lookups, no float formatting."""
    return "[" + ",".join([_format(q) for q in vector]) + "]"


def floats(vector: list[int]) -> list[float]:
    return [q / _SCALE for q in vector]


def to_base64_bytes(vector: list[int]) -> bytes:
    """Little-endian float32, as OpenAI's ``encoding_format: "base64"`` carries it (before the base64 step)."""
    return struct.pack(f"<{len(vector)}f", *(q / _SCALE for q in vector))
