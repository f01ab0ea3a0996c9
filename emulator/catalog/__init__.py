"""The model catalog: which models exist, what each can do, and which training types each base accepts.

Two bundled files: ``models.json`` (the fine-tunable and deployable rows, model x training type) and
``serving.json`` (every callable model of Model Studio's model list with its capabilities: modalities, endpoints,
thinking mode and budget, context window, output limit, tools, structured output; ``-latest`` aliases and dated
snapshots expanded from one entry). A user layer on top (``--models FILE`` at start, ``/_emulator/models`` at run
time) adds or overrides models without a release; removing a user model restores the bundled one, if any.
Other packages read capabilities through the accessors at the end (``supports_tools(model)``, ...).

The data lives in ``models.json`` so that the matrix can be read and corrected without touching code. The seed
document lost its support marks (every tick became the same image placeholder), so only the number of marks per
row is known; ``methods`` is the lenient default policy of reference section 9 and ``strict_methods`` is its
"best reconstruction" column. Sizes, default batch sizes and context windows are guesses (see ``_about`` in the
JSON file).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

TRAINING_TYPES: tuple[str, ...] = ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")
LORA_TRAINING_TYPES: tuple[str, ...] = ("efficient_sft", "dpo_lora")
FAMILIES: tuple[str, ...] = ("qwen", "llama2", "baichuan", "chatglm", "deepseek", "kimi", "glm", "minimax", "other")
MODALITIES: tuple[str, ...] = ("text", "image", "video", "audio")
ENDPOINTS: tuple[str, ...] = ("text-generation", "multimodal-generation", "compatible")
THINKING_MODES: tuple[str, ...] = ("none", "hybrid", "hybrid-on", "on", "always")
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

    # generation capabilities (serving.json; defaults for the rows that have none)
    kind: str = "text"
    inputs: tuple[str, ...] = ("text",)
    outputs: tuple[str, ...] = ("text",)
    endpoints: tuple[str, ...] = ("text-generation", "compatible")
    thinking: str | None = None
    """The thinking mode (``thinking_mode``); None: decided by the name rules."""
    thinking_budget: int | None = None
    max_output_tokens: int | None = None
    tools: bool = True
    structured_output: bool = True
    stream_only: bool = False
    alias_of: str | None = None
    """The entry this name was expanded from (``qwen-plus`` for ``qwen-plus-latest``), None for the entry itself."""
    user: bool = False
    """Added or overridden by the user (``--models``, ``/_emulator/models``)."""

    def hp_default(self, key: str) -> int | float | str | None:
        return next((value for name, value in self.hp_defaults if name == key), None)

    def capabilities(self) -> dict[str, Any]:
        """The wire form of what the model can do (``/_emulator/models``, the dashboard)."""
        return {
            "id": self.id,
            "family": self.family,
            "kind": self.kind,
            "input": list(self.inputs),
            "output": list(self.outputs),
            "endpoints": list(self.endpoints),
            "thinking": thinking_mode(self.id, self),
            "thinking_budget": self.thinking_budget,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "tools": self.tools,
            "structured_output": self.structured_output,
            "stream_only": self.stream_only,
            "fine_tunable": self.fine_tunable,
            "deployable": self.deployable,
            "alias_of": self.alias_of,
            "user": self.user,
        }


class CatalogError(ValueError):
    """The bundled catalog file is malformed; a packaging bug, never a user error."""


class Catalog:
    def __init__(self, models: list[ModelInfo]) -> None:
        self._bundled = list(models)
        self._bundled_by_id = {model.id: model for model in models}
        if len(self._bundled_by_id) != len(self._bundled):
            raise CatalogError("duplicate model id in catalog")
        self._user: dict[str, ModelInfo] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        merged = [self._user.get(m.id, m) for m in self._bundled]
        merged += [m for m in self._user.values() if m.id not in self._bundled_by_id]
        self._models = merged
        self._by_id = {model.id: model for model in merged}

    def get(self, model_id: str) -> ModelInfo | None:
        return self._by_id.get(model_id)

    def models(self) -> list[ModelInfo]:
        """Every known model, fine-tunable or not, in catalog order (user-added models last)."""
        return list(self._models)

    # ------------------------------------------------------------------------------------------ the user layer

    def add_user_models(self, entries: Sequence[Any]) -> list[ModelInfo]:
        """Add or override models (entries in serving.json's format; ``like`` copies an existing model's
        capabilities); all or nothing. Answers the models added, with their expanded names."""
        added: dict[str, ModelInfo] = {}
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise CatalogError("each model must be an object")
            for model in _expand(entry, lambda i: added.get(i) or self.get(i), user=True):
                added[model.id] = model
        self._user.update(added)
        self._rebuild()
        return list(added.values())

    def remove_user_model(self, model_id: str) -> bool:
        """Drop a user model (a bundled model it overrode comes back); False when it is not a user model."""
        if self._user.pop(model_id, None) is None:
            return False
        self._rebuild()
        return True

    def reset_user_models(self) -> None:
        self._user.clear()
        self._rebuild()

    def user_models(self) -> list[ModelInfo]:
        return list(self._user.values())

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
    """The process's catalog: the bundled files, plus the user layer (``--models``, ``/_emulator/models``)."""
    text = resources.files(__name__).joinpath("models.json").read_text(encoding="utf-8")
    serving = resources.files(__name__).joinpath("serving.json").read_text(encoding="utf-8")
    return parse_catalog(json.loads(text), json.loads(serving))


def catalog_loaded() -> bool:
    """Whether this process has parsed its catalog yet (``load_catalog``, on first use)."""
    return load_catalog.cache_info().currsize > 0


def parse_catalog(document: Mapping[str, Any], serving: Mapping[str, Any] | None = None) -> Catalog:
    """Build a catalog from the JSON documents; exposed so tests can feed their own data."""
    entries = document.get("models")
    if not isinstance(entries, list):
        raise CatalogError("catalog document needs a 'models' list")
    models = [_parse_model(entry) for entry in entries]
    if serving is not None:
        models = _with_serving(models, serving.get("models", []))
    return Catalog(models)


def _with_serving(models: list[ModelInfo], entries: list[Mapping[str, Any]]) -> list[ModelInfo]:
    by_id = {m.id: m for m in models}
    order = [m.id for m in models]
    for entry in entries:
        for model in _expand(entry, by_id.get, user=False):
            if model.id not in by_id:
                order.append(model.id)
            by_id[model.id] = model
    return [by_id[i] for i in order]


_CAPABILITY_KEYS = {
    "kind": ("kind", str),
    "input": ("inputs", tuple),
    "output": ("outputs", tuple),
    "endpoints": ("endpoints", tuple),
    "thinking": ("thinking", str),
    "thinking_budget": ("thinking_budget", int),
    "context_window": ("context_window", int),
    "max_output_tokens": ("max_output_tokens", int),
    "tools": ("tools", bool),
    "structured_output": ("structured_output", bool),
    "stream_only": ("stream_only", bool),
    "family": ("family", str),
    "name": ("name", str),
}


def _expand(entry: Mapping[str, Any], existing: Callable[[str], ModelInfo | None], *, user: bool) -> list[ModelInfo]:
    """An entry and the names it brings (``-latest``, snapshots, aliases), each a ModelInfo. A name that is
    already a catalog row (a fine-tunable base) keeps its fine-tuning facts and takes the capabilities."""
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > 128:
        raise CatalogError("a model needs an 'id' (a non-empty string of at most 128 characters)")
    like = entry.get("like")
    template = existing(str(like)) if isinstance(like, str) else None
    if isinstance(like, str) and template is None:
        raise CatalogError(f"{model_id}: 'like' names an unknown model {like!r}")
    base = _capable(existing(model_id) or template or _bare(model_id), entry, model_id, user=user, alias_of=None)
    out = [base]
    names: list[Any] = []
    if entry.get("latest"):
        names.append(f"{model_id}-latest")
    names += list(entry.get("snapshots", [])) + list(entry.get("aliases", []))
    for name in names:
        override: Mapping[str, Any] = name if isinstance(name, Mapping) else {"id": name}
        child_id = override.get("id")
        if not isinstance(child_id, str) or not child_id:
            raise CatalogError(f"{model_id}: every snapshot needs an id")
        inherited = dataclasses.replace(
            base,
            id=child_id,
            name=child_id,
            fine_tunable=False,
            deployable=False,
            methods=(),
            strict_methods=(),
            seed_marks=0,
            lora_deployable=False,
            hp_defaults=(),
        )
        row = existing(child_id)
        if row is not None and row.fine_tunable:
            # a fine-tunable row keeps its own context window (its hyper-parameter defaults depend on it)
            inherited = dataclasses.replace(
                row, **{f.name: getattr(base, f.name) for f in _CAPABILITY_FIELDS if f.name != "context_window"}
            )
        out.append(_capable(inherited, override, child_id, user=user, alias_of=model_id))
    return out


def _bare(model_id: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        family="other",
        vision=False,
        methods=(),
        strict_methods=(),
        confidence="doc",
        params_b=1.0,
        default_batch_size=1,
        fine_tunable=False,
        deployable=False,
    )


def _capable(
    model: ModelInfo, entry: Mapping[str, Any], model_id: str, *, user: bool, alias_of: str | None
) -> ModelInfo:
    changes: dict[str, Any] = {"id": model_id, "user": user, "alias_of": alias_of}
    if model.id != model_id:  # a copy of another model (``like``): its name, never its fine-tuning facts
        changes.update(
            name=model_id,
            fine_tunable=False,
            deployable=False,
            methods=(),
            strict_methods=(),
            seed_marks=0,
            lora_deployable=False,
            hp_defaults=(),
        )
    for key, (attr, kind) in _CAPABILITY_KEYS.items():
        if key not in entry:
            continue
        value = entry[key]
        if kind is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CatalogError(f"{model_id}: {key} must be a list of strings")
            value = tuple(value)
        elif (
            kind is bool
            and not isinstance(value, bool)
            or kind is int
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
            or kind is str
            and not isinstance(value, str)
        ):
            raise CatalogError(f"{model_id}: {key} must be a {'positive integer' if kind is int else kind.__name__}")
        changes[attr] = value
    if "input" in entry and not model.fine_tunable:
        # ``vision`` of a fine-tunable row is about its training data (models.json): left as it is
        changes["vision"] = "image" in changes["inputs"]
    elif model.vision and "image" not in model.inputs:
        changes["inputs"] = ("text", "image", "video")
        changes.setdefault("endpoints", ("multimodal-generation", "compatible"))
    result = dataclasses.replace(model, **changes)
    _check_capabilities(result)
    return result


def _check_capabilities(model: ModelInfo) -> None:
    if set(model.inputs) - set(MODALITIES) or not model.inputs:
        raise CatalogError(f"{model.id}: input must be some of {', '.join(MODALITIES)}")
    if set(model.outputs) - {"text", "audio"} or not model.outputs:
        raise CatalogError(f"{model.id}: output must be some of text, audio")
    if set(model.endpoints) - set(ENDPOINTS):
        raise CatalogError(f"{model.id}: endpoints must be some of {', '.join(ENDPOINTS)}")
    if model.thinking is not None and model.thinking not in THINKING_MODES:
        raise CatalogError(f"{model.id}: thinking must be one of {', '.join(THINKING_MODES)}")
    if model.family not in FAMILIES:
        raise CatalogError(f"{model.id}: family must be one of {', '.join(FAMILIES)}")


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
            thinking=str(entry["thinking"]) if "thinking" in entry else None,
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


def thinking_mode(model_id: str, model: ModelInfo | None = None) -> ThinkingMode:
    """Which way a model thinks: its catalog entry's ``thinking`` when it has one, else the name rules of
    reference §5.1 (dated snapshots such as ``qwen-plus-0723`` predate thinking and answer ``none``)."""
    if model is None:
        model = load_catalog().get(model_id)
    if model is not None and model.thinking is not None:
        return model.thinking
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
    """The ``response_format`` types beyond ``text`` a model takes: none when its catalog entry says
    ``structured_output: false``, else the docs' lists (reference 2026-apps §1.1, §4 Q1): JSON mode for Qwen models
    but the first generations and other vendors' chat models, JSON schema for the listed families."""
    info = load_catalog().get(model_id)
    if info is not None and not info.structured_output:
        return frozenset()
    name = model_id.lower()
    if name.startswith(_NO_JSON_MODE):
        return frozenset()
    formats = {"json_object"}
    dated = re.search(r"-(\d{4}-\d{2}-\d{2}|\d{4})$", name)  # a snapshot: 2025-07-28 or the older 0723
    if name.startswith(_JSON_SCHEMA) and (dated is None or dated.group(1) >= _JSON_SCHEMA_SINCE):
        formats.add("json_schema")
    return frozenset(formats)


def serves_multimodal(model: ModelInfo) -> bool:
    """Models the multimodal endpoint answers: those whose endpoints name it, vision models, and Qwen3.5/3.6."""
    return (
        "multimodal-generation" in model.endpoints
        or model.vision
        or model.id.lower().startswith(("qwen3.5", "qwen3.6"))
    )


# ------------------------------------------------------------------------------------- accessors for other code


def _model(model: str | ModelInfo, catalog: Catalog | None) -> ModelInfo | None:
    if isinstance(model, ModelInfo):
        return model
    return (catalog or load_catalog()).get(model)


def supports_tools(model: str | ModelInfo, catalog: Catalog | None = None) -> bool:
    """Function calling (``tools``): unknown models answer False."""
    info = _model(model, catalog)
    return bool(info and info.tools)


def supports_structured_output(model: str | ModelInfo, catalog: Catalog | None = None) -> bool:
    """``response_format`` json_object / json_schema."""
    info = _model(model, catalog)
    return bool(info and info.structured_output)


def supports_thinking(model: str | ModelInfo, catalog: Catalog | None = None) -> bool:
    info = _model(model, catalog)
    return info is not None and thinking_mode(info.id, info) != "none"


def thinks_by_default(model: str | ModelInfo, catalog: Catalog | None = None) -> bool:
    info = _model(model, catalog)
    return info is not None and thinking_mode(info.id, info) in ("hybrid-on", "on", "always")


def thinking_budget(model: str | ModelInfo, catalog: Catalog | None = None) -> int | None:
    """The largest ``thinking_budget`` the model accepts (None: the generation default)."""
    info = _model(model, catalog)
    return info.thinking_budget if info else None


def context_window(model: str | ModelInfo, catalog: Catalog | None = None) -> int | None:
    info = _model(model, catalog)
    return info.context_window if info else None


def max_output_tokens(model: str | ModelInfo, catalog: Catalog | None = None) -> int | None:
    info = _model(model, catalog)
    return info.max_output_tokens if info else None


def input_modalities(model: str | ModelInfo, catalog: Catalog | None = None) -> tuple[str, ...]:
    info = _model(model, catalog)
    return info.inputs if info else ()


def accepts_input(model: str | ModelInfo, modality: str, catalog: Catalog | None = None) -> bool:
    """Whether the model takes ``image`` / ``video`` / ``audio`` (or ``text``) parts."""
    return modality in input_modalities(model, catalog)


def accepts_endpoint(model: str | ModelInfo, endpoint: str, catalog: Catalog | None = None) -> bool:
    """``text-generation``, ``multimodal-generation`` or ``compatible``."""
    info = _model(model, catalog)
    return info is not None and (
        endpoint in info.endpoints or endpoint == "multimodal-generation" and serves_multimodal(info)
    )


def is_stream_only(model: str | ModelInfo, catalog: Catalog | None = None) -> bool:
    info = _model(model, catalog)
    return bool(info and info.stream_only)


def newest_first(models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """Models ordered by their Qwen generation, newest first (qwen3.6 > qwen3.5 > qwen3 > qwen2.5 > others), so
    that a hint names current models; the catalog's order breaks ties."""

    def generation(model: ModelInfo) -> float:
        match = re.match(r"qwen(\d+(?:\.\d+)?)", model.id)
        return float(match.group(1)) if match else 0.0

    return sorted(models, key=lambda m: -generation(m))


def model_hint(
    catalog: Catalog | None = None, count: int = 6, *, fine_tunable: bool = False, deployable: bool = False
) -> str:
    """A few current model names for an error message, newest first: fine-tunable (or deployable) bases, or
    callable models without their aliases and snapshots."""
    models = (catalog or load_catalog()).models()
    if fine_tunable or deployable:
        models = [m for m in models if (m.fine_tunable or not fine_tunable) and (m.deployable or not deployable)]
    else:
        models = [m for m in models if m.alias_of is None]
    return ", ".join(m.id for m in newest_first(models)[:count])


_CAPABILITY_FIELDS = [
    f
    for f in dataclasses.fields(ModelInfo)
    if f.name in {attr for attr, _ in _CAPABILITY_KEYS.values()} - {"name", "family"}
]
