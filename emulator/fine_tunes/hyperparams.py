"""Validation of a fine-tune job's ``hyper_parameters`` against the seed's three tables.

The seed gives defaults but no ranges, so every bound here is a guess (reference section 8). Values may arrive as
strings because the 1.20.11 CLI sends ``--hyper_parameters split=0.9`` as ``"0.9"``; numeric strings are accepted.
Booleans are never numbers, even though Python treats them as ints. Keys the real service may or may not know
are ignored rather than rejected, and reported so that the job log can say so. The job object itself echoes the
user's values as sent; that is the service's job, not this module's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from emulator.catalog import LORA_TRAINING_TYPES, ModelInfo, is_lora

HyperValue = int | float | str

LR_SCHEDULER_TYPES: tuple[str, ...] = (
    "linear",
    "cosine",
    "constant",
    "inverse_sqrt",
    "polynomial",
    "cosine_with_restarts",
    "constant_with_warmup",
)
TARGET_MODULES: tuple[str, ...] = ("AUTO", "ALL")
IGNORED_KEYS: tuple[str, ...] = ("prompt_loss",)
_FALLBACK_BATCH_SIZE = 16
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_NAMES_SHOWN = 10


class HyperParameterError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class EffectiveHyperParameters:
    """What training actually uses: every applicable key with its value, defaults filled in."""

    values: dict[str, HyperValue]
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def int_value(self, key: str) -> int:
        return int(self.values[key])

    def float_value(self, key: str) -> float:
        return float(self.values[key])


@dataclass(frozen=True)
class _Spec:
    key: str
    kind: Literal["int", "float", "choice"]
    default: HyperValue | None  # None: depends on the model and training type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    lora_only: bool = False

    @property
    def requirement(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        noun = "an integer" if self.kind == "int" else "a number"
        if self.kind == "int" and self.low is not None and self.high is not None:
            return f"{noun} between {_fmt(self.low)} and {_fmt(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
        return " ".join([noun, " and ".join(parts)]) if parts else noun


# Table order is the validation order, so the first bad key reported is deterministic.
SPECS: tuple[_Spec, ...] = (
    _Spec("n_epochs", "int", 1, low=1, high=100),
    _Spec("batch_size", "int", None, low=1, high=1024),
    _Spec("learning_rate", "float", None, low=0, high=1, low_open=True, high_open=True),
    _Spec("split", "float", 0.8, low=0, high=1, low_open=True, high_open=True),
    _Spec("max_split_val_dataset_sample", "int", 1000, low=1),
    _Spec("lr_scheduler_type", "choice", "cosine", choices=LR_SCHEDULER_TYPES),
    _Spec("eval_steps", "int", 50, low=1),
    _Spec("max_length", "int", 2048, low=1, high=32768),
    _Spec("warmup_ratio", "float", 0.05, low=0, high=1, high_open=True),
    _Spec("weight_decay", "float", 0.1, low=0),
    _Spec("max_grad_norm", "float", 1.0, low=0, low_open=True),
    _Spec("logging_steps", "int", 5, low=1),
    _Spec("lora_rank", "int", 8, low=1, high=1024, lora_only=True),
    _Spec("lora_alpha", "float", 32.0, low=0, low_open=True, lora_only=True),
    _Spec("lora_dropout", "float", 0.1, low=0, high=1, high_open=True, lora_only=True),
    _Spec("target_modules", "choice", "AUTO", choices=TARGET_MODULES, lora_only=True),
)
KNOWN_KEYS: frozenset[str] = frozenset(spec.key for spec in SPECS) | frozenset(IGNORED_KEYS)


def validate_hyper_parameters(
    raw: Mapping[str, object] | None, *, training_type: str, model: ModelInfo | None
) -> EffectiveHyperParameters:
    """Raise HyperParameterError for the first bad key; a JSON ``null`` value counts as "not given"."""
    given = _given(raw)
    lora = is_lora(training_type)
    values: dict[str, HyperValue] = {}
    for spec in SPECS:
        if spec.lora_only and not lora:
            continue
        value = given.get(spec.key)
        values[spec.key] = _default(spec, training_type, model) if value is None else _parse(spec, value)
    skipped_lora = [spec.key for spec in SPECS if spec.lora_only and not lora and given.get(spec.key) is not None]
    unknown = sorted(key for key in given if key not in KNOWN_KEYS)
    prompt_loss = [key for key in IGNORED_KEYS if given.get(key) is not None]
    notes = _notes(prompt_loss, skipped_lora, unknown, training_type)
    return EffectiveHyperParameters(values=values, ignored=tuple(prompt_loss + skipped_lora + unknown), notes=notes)


def default_learning_rate(training_type: str, model: ModelInfo | None) -> float:
    """The seed: "1e-5 order for sft/dpo_full/dpo_lora, 1e-4 order for efficient_sft, varies by model".

    Bigger models take smaller steps; the size bands are a guess.
    """
    base = 1e-4 if training_type == "efficient_sft" else 1e-5
    if model is None:
        return base
    if model.params_b <= 10:
        return base * 2
    return base if model.params_b <= 40 else base / 2


def _given(raw: object) -> dict[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise HyperParameterError("hyper_parameters", f"hyper_parameters must be an object (got {_show(raw)})")
    return {str(key): value for key, value in raw.items()}


def _default(spec: _Spec, training_type: str, model: ModelInfo | None) -> HyperValue:
    own = model.hp_default(spec.key) if model is not None else None
    if own is not None:
        return own
    if spec.key == "batch_size":
        return model.default_batch_size if model is not None else _FALLBACK_BATCH_SIZE
    if spec.key == "learning_rate":
        return default_learning_rate(training_type, model)
    assert spec.default is not None
    return spec.default


def _parse(spec: _Spec, value: object) -> HyperValue:
    if spec.kind == "choice":
        return _parse_choice(spec, value)
    number = _as_number(value)
    if spec.kind == "int":
        number = _as_int(number)
    if number is None or not _in_range(spec, number):
        raise _error(spec, value)
    return number if spec.kind == "int" else float(number)


def _parse_choice(spec: _Spec, value: object) -> str:
    if isinstance(value, str):
        for choice in spec.choices:
            if choice.lower() == value.strip().lower():
                return choice
    raise _error(spec, value)


def _as_number(value: object) -> int | float | None:
    """A finite int or float from a JSON number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        try:
            number: int | float = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:  # more digits than int() accepts
            return None
        return None if isinstance(number, float) and not math.isfinite(number) else number
    return None


def _as_int(number: int | float | None) -> int | None:
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def _in_range(spec: _Spec, number: int | float) -> bool:
    if spec.kind == "float" and not _fits_float(number):
        return False
    if spec.low is not None and (number <= spec.low if spec.low_open else number < spec.low):
        return False
    return spec.high is None or (number < spec.high if spec.high_open else number <= spec.high)


def _fits_float(number: int | float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _error(spec: _Spec, value: object) -> HyperParameterError:
    return HyperParameterError(spec.key, f"hyper_parameters.{spec.key} must be {spec.requirement} (got {_show(value)})")


def _notes(prompt_loss: list[str], lora: list[str], unknown: list[str], training_type: str) -> tuple[str, ...]:
    notes = []
    if prompt_loss:
        notes.append("prompt_loss is ignored: the -p/--prompt_loss setting has no effect")
    if lora:
        lora_types = "/".join(LORA_TRAINING_TYPES)
        verb = "is" if len(lora) == 1 else "are"
        notes.append(
            f"{_names(lora)} {verb} ignored: LoRA settings apply to {lora_types} only "
            f"(training_type={_clip(training_type, 40)})"
        )
    if unknown:
        notes.append(f"unknown hyper-parameters ignored: {_names(unknown)}")
    return tuple(notes)


def _names(keys: list[str]) -> str:
    """A bounded list of key names, so that a request with thousands of keys still gives one short log line."""
    shown = ", ".join(_clip(key, 40) for key in keys[:_MAX_NAMES_SHOWN])
    hidden = len(keys) - _MAX_NAMES_SHOWN
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def _show(value: object) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    try:
        return _clip(repr(value), 60)
    except ValueError:  # an int with more digits than Python will print
        return "<a very large integer>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(number: float) -> str:
    return f"{number:g}"
