"""The model catalog: which base models exist and which training types each one accepts.

The data lives in ``models.json`` so that the matrix can be read and corrected without touching code. The seed
document lost its support marks (every tick became the same image placeholder), so only the number of marks per
row is known; ``methods`` is the lenient default policy of reference section 9 and ``strict_methods`` is its
"best reconstruction" column. Sizes, default batch sizes and context windows are guesses (see ``_about`` in the
JSON file).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

TRAINING_TYPES: tuple[str, ...] = ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")
LORA_TRAINING_TYPES: tuple[str, ...] = ("efficient_sft", "dpo_lora")
FAMILIES: tuple[str, ...] = ("qwen", "llama2", "baichuan", "chatglm")
MATRICES: tuple[str, ...] = ("seed", "2026")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    family: str
    vision: bool
    methods: tuple[str, ...]
    strict_methods: tuple[str, ...]
    confidence: str
    params_b: float
    default_batch_size: int
    fine_tunable: bool
    deployable: bool
    context_window: int = 8192
    seed_marks: int = 0
    notes: str = ""
    matrix: str = "seed"
    """Which model x training-type matrix the row comes from: ``seed`` (reference section 9) or ``2026``."""
    lora_deployable: bool = False
    """Its LoRA fine-tunes deploy token-billed under ``plan: lora`` (2026 model-deployment doc)."""
    hp_defaults: tuple[tuple[str, int | float | str], ...] = ()
    """Hyper-parameter defaults of this model that differ from the general ones (``hp_default`` reads them)."""

    def hp_default(self, key: str) -> int | float | str | None:
        return next((value for name, value in self.hp_defaults if name == key), None)


class CatalogError(ValueError):
    """The bundled catalog file is malformed; a packaging bug, never a user error."""


class Catalog:
    def __init__(self, models: list[ModelInfo]) -> None:
        self._models = list(models)
        self._by_id = {model.id: model for model in models}
        if len(self._by_id) != len(self._models):
            raise CatalogError("duplicate model id in catalog")

    def get(self, model_id: str) -> ModelInfo | None:
        return self._by_id.get(model_id)

    def models(self) -> list[ModelInfo]:
        """Every known model, fine-tunable or not, in catalog order."""
        return list(self._models)

    def base_models(self) -> list[ModelInfo]:
        """The fine-tunable base models, in the seed matrix's row order."""
        return [model for model in self._models if model.fine_tunable]

    def supported_methods(self, model_id: str, *, strict: bool) -> tuple[str, ...]:
        model = self._by_id.get(model_id)
        if model is None or not model.fine_tunable:
            return ()
        return model.strict_methods if strict else model.methods

    def supports(self, model_id: str, method: str, *, strict: bool) -> bool:
        return method in self.supported_methods(model_id, strict=strict)


def is_lora(training_type: str) -> bool:
    return training_type in LORA_TRAINING_TYPES


@functools.cache
def load_catalog() -> Catalog:
    text = resources.files(__name__).joinpath("models.json").read_text(encoding="utf-8")
    return parse_catalog(json.loads(text))


def parse_catalog(document: Mapping[str, Any]) -> Catalog:
    """Build a catalog from the JSON document; exposed so tests can feed their own data."""
    entries = document.get("models")
    if not isinstance(entries, list):
        raise CatalogError("catalog document needs a 'models' list")
    return Catalog([_parse_model(entry) for entry in entries])


def _parse_model(entry: Mapping[str, Any]) -> ModelInfo:
    try:
        model = ModelInfo(
            id=str(entry["id"]),
            name=str(entry["name"]),
            family=str(entry["family"]),
            vision=bool(entry["vision"]),
            methods=tuple(entry["methods"]),
            strict_methods=tuple(entry["strict_methods"]),
            confidence=str(entry["confidence"]),
            params_b=float(entry["params_b"]),
            default_batch_size=int(entry["default_batch_size"]),
            fine_tunable=bool(entry["fine_tunable"]),
            deployable=bool(entry["deployable"]),
            context_window=int(entry.get("context_window", 8192)),
            seed_marks=int(entry.get("seed_marks", 0)),
            notes=str(entry.get("notes", "")),
            matrix=str(entry.get("matrix", "seed")),
            lora_deployable=bool(entry.get("lora_deployable", False)),
            hp_defaults=_hp_defaults(entry.get("hp_defaults", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"bad catalog entry {entry.get('id', '?')!r}: {exc}") from exc
    _check_model(model)
    return model


def _hp_defaults(raw: Any) -> tuple[tuple[str, int | float | str], ...]:
    if not isinstance(raw, Mapping):
        raise TypeError("hp_defaults must be an object")
    out: list[tuple[str, int | float | str]] = []
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(f"hp_defaults.{key} must be a number or a string")
        out.append((str(key), value))
    return tuple(out)


def _check_model(model: ModelInfo) -> None:
    unknown = set(model.methods) - set(TRAINING_TYPES)
    if unknown:
        raise CatalogError(f"{model.id}: unknown training types {sorted(unknown)}")
    if not set(model.strict_methods) <= set(model.methods):
        raise CatalogError(f"{model.id}: strict_methods must be a subset of methods")
    if model.matrix not in MATRICES:
        raise CatalogError(f"{model.id}: unknown matrix {model.matrix!r}")
    if model.family not in FAMILIES:
        raise CatalogError(f"{model.id}: unknown family {model.family!r}")
    if model.params_b <= 0 or model.default_batch_size < 1:
        raise CatalogError(f"{model.id}: params_b and default_batch_size must be positive")


# ---------------------------------------------------------------------------------------------- generation traits

ThinkingMode = str
"""``none`` (no reasoning; ``enable_thinking: true`` is refused), ``hybrid`` (off unless asked), ``hybrid-on`` (on
unless turned off; streaming-only while on: the open-source Qwen3), ``on`` (on unless turned off; Qwen3.5/3.6),
``always`` (thinks whatever is asked; streaming-only: QwQ, ``*-thinking-*``, DeepSeek-R1).  Reference §5.1."""

_HYBRID_OFF = ("qwen-plus", "qwen-turbo", "qwen-flash", "qwen3-max-preview")
_ALWAYS = ("qwq", "qvq", "deepseek-r1")


def thinking_mode(model_id: str) -> ThinkingMode:
    """Which way a model thinks: the catalog entry's ``thinking`` key when it has one, else the name rules of
    reference §5.1 (dated snapshots such as ``qwen-plus-0723`` predate thinking and answer ``none``)."""
    entry = _THINKING_OVERRIDES.get(model_id)
    if entry is not None:
        return entry
    name = model_id.lower()
    if name.startswith(_ALWAYS) or "-thinking" in name:
        return "always"
    if name.startswith(("qwen3.5", "qwen3.6")):
        return "on"
    if name in _HYBRID_OFF or name.endswith("-latest") and name.startswith(_HYBRID_OFF):
        return "hybrid"
    if name.startswith("qwen3-") and "instruct" not in name and not name.startswith("qwen3-max"):
        return "hybrid-on"
    return "none"


_NO_JSON_MODE = ("llama", "baichuan", "chatglm", "qwen1.5-", "qwen-7b-", "qwen-14b-", "qwen-72b-", "qwen2-")
_JSON_SCHEMA = ("qwen3-max", "qwen-plus", "qwen-flash", "qwen3.7", "qwen3.8", "deepseek-v3.2")
_JSON_SCHEMA_SINCE = "2025-07-28"
"""Dated ``qwen-plus``/``qwen-flash`` snapshots take ``json_schema`` from this one on (reference 2026-apps §1.1)."""


def structured_output_formats(model_id: str) -> frozenset[str]:
    """The ``response_format`` types beyond ``text`` a model takes: the catalog entry's ``structured_output`` key
    (a list, or true for both) when it has one, else the docs' lists (reference 2026-apps §1.1, §4 Q1): JSON mode
    for Qwen models but the first generations and other vendors' chat models, JSON schema for the listed families."""
    entry = _STRUCTURED_OVERRIDES.get(model_id)
    if entry is not None:
        return entry
    name = model_id.lower()
    if name.startswith(_NO_JSON_MODE):
        return frozenset()
    formats = {"json_object"}
    dated = re.search(r"-(\d{4}-\d{2}-\d{2}|\d{4})$", name)  # a snapshot: 2025-07-28 or the older 0723
    if name.startswith(_JSON_SCHEMA) and (dated is None or dated.group(1) >= _JSON_SCHEMA_SINCE):
        formats.add("json_schema")
    return frozenset(formats)


def serves_multimodal(model: ModelInfo) -> bool:
    """Models the multimodal endpoint answers: vision models, and Qwen3.5/3.6 (served there in DashScope form)."""
    return model.vision or model.id.lower().startswith(("qwen3.5", "qwen3.6"))


def _thinking_overrides() -> dict[str, ThinkingMode]:
    text = resources.files(__name__).joinpath("models.json").read_text(encoding="utf-8")
    entries = json.loads(text).get("models", [])
    return {str(e["id"]): str(e["thinking"]) for e in entries if isinstance(e, dict) and "thinking" in e}


_THINKING_OVERRIDES: dict[str, ThinkingMode] = _thinking_overrides()


def _structured_overrides() -> dict[str, frozenset[str]]:
    text = resources.files(__name__).joinpath("models.json").read_text(encoding="utf-8")
    out: dict[str, frozenset[str]] = {}
    for entry in json.loads(text).get("models", []):
        given = entry.get("structured_output") if isinstance(entry, dict) else None
        if given is True:
            out[str(entry["id"])] = frozenset({"json_object", "json_schema"})
        elif given is False or isinstance(given, list):
            out[str(entry["id"])] = frozenset(str(f) for f in given or ())
    return out


_STRUCTURED_OVERRIDES: dict[str, frozenset[str]] = _structured_overrides()
