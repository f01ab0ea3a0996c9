from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from emulator.catalog import TRAINING_TYPES, CatalogError, load_catalog, parse_catalog

SEED_ROWS = [
    ("qwen2.5-72b-instruct", "通义千问2.5-开源版-72B", 2),
    ("qwen2.5-32b-instruct", "通义千问2.5-开源版-32B", 1),
    ("qwen2.5-14b-instruct", "通义千问2.5-开源版-14B", 2),
    ("qwen2.5-7b-instruct", "通义千问2.5-开源版-7B", 2),
    ("qwen2-72b-instruct", "通义千问2-开源版-72B", 2),
    ("qwen2-7b-instruct", "通义千问2-开源版-7B", 4),
    ("qwen1.5-72b-chat", "通义千问1.5-开源版-72B", 1),
    ("qwen1.5-14b-chat", "通义千问1.5-开源版-14B", 2),
    ("qwen1.5-7b-chat", "通义千问1.5-开源版-7B", 2),
    ("qwen-72b-chat", "通义千问-开源版-72B", 1),
    ("qwen-14b-chat", "通义千问-开源版-14B", 2),
    ("qwen-7b-chat", "通义千问-开源版-7B", 2),
    ("qwen-turbo", "通义千问-Turbo(通义商业版)", 2),
    ("qwen-turbo-0624", "通义千问-Turbo-0624(通义商业版)", 4),
    ("qwen-plus-0723", "通义千问-Plus-0723(通义商业版)", 2),
    ("qwen-vl-max-0201", "通义千问VL-Max-0201", 1),
    ("qwen-vl-plus", "通义千问VL-Plus", 1),
    ("baichuan2-7b-chat-v1", "百川2-7B(开源)", 1),
    ("llama2-13b-chat-v2", "Llama2-13B", 1),
    ("llama2-7b-chat-v2", "Llama2-7B", 1),
    ("chatglm-6b-v2", "ChatGLM2-6B", 1),
]

SEED_TYPES = ("sft", "efficient_sft", "dpo_full", "dpo_lora")
# Reference section 9, "best reconstruction" column.
STRICT = {
    "qwen2.5-32b-instruct": ("efficient_sft",),
    "qwen2-7b-instruct": SEED_TYPES,
    "qwen1.5-72b-chat": ("efficient_sft",),
    "qwen-72b-chat": ("efficient_sft",),
    "qwen-turbo-0624": SEED_TYPES,
    "qwen-vl-max-0201": ("sft",),
    "qwen-vl-plus": ("sft",),
    "baichuan2-7b-chat-v1": ("sft",),
    "llama2-13b-chat-v2": ("sft",),
    "llama2-7b-chat-v2": ("sft",),
    "chatglm-6b-v2": ("sft",),
}
DPO_MODELS = {"qwen2-7b-instruct", "qwen-turbo-0624"}
# Rows of the seed matrix that the 2026 matrix (reference 2026 §3.3) ticks fully: the 2026 row is authoritative.
MATRIX_2026 = {"qwen2.5-72b-instruct", "qwen2.5-32b-instruct", "qwen2.5-14b-instruct", "qwen2.5-7b-instruct"}
ALL_2026 = ("cpt", "sft", "efficient_sft", "dpo_full", "dpo_lora")
NEW_2026 = {
    "qwen3.6-flash-2026-04-16": ("sft",),
    "qwen3.5-27b": ("sft", "efficient_sft"),
    "qwen3.5-9b": ("sft", "efficient_sft"),
    "qwen3.5-flash-2026-02-23": ("sft",),
    "qwen3-32b": ALL_2026,
    "qwen3-30b-a3b-instruct-2507": ("cpt", "sft", "efficient_sft"),
    "qwen3-14b": SEED_TYPES,
    "qwen3-8b": SEED_TYPES,
    "qwen3-4b-instruct-2507": ALL_2026,
    "qwen3-1.7b": ALL_2026,
    "qwen3-0.6b": ALL_2026,
    "qwen-plus-character-2025-11-06": SEED_TYPES,
    "qwen3-vl-8b-instruct": ("sft", "efficient_sft"),
    "qwen3-vl-8b-thinking": ("sft", "efficient_sft"),
    "qwen3-vl-4b-instruct": ("sft", "efficient_sft"),
    "qwen2.5-vl-72b-instruct": ("sft", "efficient_sft"),
    "qwen2.5-vl-32b-instruct": ("sft", "efficient_sft"),
    "qwen2.5-vl-7b-instruct": ("sft", "efficient_sft"),
}
LORA_DEPLOYABLE = {
    "qwen3-32b",
    "qwen3-14b",
    "qwen3-8b",
    "qwen3-vl-8b-instruct",
    "qwen2.5-vl-72b-instruct",
    "qwen2.5-vl-32b-instruct",
    "qwen2.5-vl-7b-instruct",
    *MATRIX_2026,
}


def _document() -> dict[str, Any]:
    text = resources.files("emulator.catalog").joinpath("models.json").read_text(encoding="utf-8")
    return json.loads(text)


def test_training_types() -> None:
    assert TRAINING_TYPES == ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")


def test_base_models_follow_the_seed_matrix_in_order() -> None:
    models = [m for m in load_catalog().base_models() if m.seed_marks]
    assert [(m.id, m.name, m.seed_marks) for m in models] == SEED_ROWS


@pytest.mark.parametrize("model_id", sorted(NEW_2026))
def test_the_2026_matrix(model_id: str) -> None:
    catalog = load_catalog()
    model = catalog.get(model_id)
    assert model is not None and model.matrix == "2026" and model.fine_tunable and model.deployable
    assert catalog.supported_methods(model_id, strict=True) == NEW_2026[model_id]
    assert catalog.supported_methods(model_id, strict=False) == NEW_2026[model_id]
    assert model.lora_deployable is (model_id in LORA_DEPLOYABLE)
    assert model.vision is ("-vl-" in model_id)
    assert model.hp_default("max_length") == 8192


def test_the_2026_matrix_overrides_the_seed_rows_it_shares() -> None:
    catalog = load_catalog()
    for model_id in MATRIX_2026:
        model = catalog.get(model_id)
        assert model is not None and model.matrix == "2026" and model.lora_deployable
        assert catalog.supported_methods(model_id, strict=True) == ALL_2026
        assert model.hp_default("max_length") is None  # their defaults stay the seed era's


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.parametrize("model_id", [row[0] for row in SEED_ROWS])
def test_lenient_policy(model_id: str) -> None:
    catalog = load_catalog()
    expected = SEED_TYPES if model_id in DPO_MODELS else ("sft", "efficient_sft")
    expected = ALL_2026 if model_id in MATRIX_2026 else expected
    assert catalog.supported_methods(model_id, strict=False) == expected
    for method in TRAINING_TYPES:
        assert catalog.supports(model_id, method, strict=False) is (method in expected)


@pytest.mark.parametrize("model_id", [row[0] for row in SEED_ROWS])
def test_strict_policy_is_the_best_reconstruction(model_id: str) -> None:
    catalog = load_catalog()
    expected = STRICT.get(model_id, ("sft", "efficient_sft"))
    if model_id in MATRIX_2026:
        expected = ALL_2026
    assert catalog.supported_methods(model_id, strict=True) == expected
    model = catalog.get(model_id)
    assert model is not None
    if model.matrix == "seed":
        assert len(model.strict_methods) == model.seed_marks
    assert set(model.strict_methods) <= set(model.methods)


def test_one_mark_rows_have_low_confidence_and_four_mark_rows_high() -> None:
    for model in load_catalog().base_models():
        if model.seed_marks == 1 and model.matrix == "seed":
            assert model.confidence == "low"
        if model.seed_marks == 4:
            assert model.confidence == "high"


def test_families_and_vision() -> None:
    models = {m.id: m for m in load_catalog().base_models()}
    vision = {m for m in NEW_2026 if "-vl-" in m}
    assert {m.id for m in models.values() if m.vision} == {"qwen-vl-max-0201", "qwen-vl-plus", *vision}
    assert models["baichuan2-7b-chat-v1"].family == "baichuan"
    assert models["llama2-13b-chat-v2"].family == "llama2"
    assert models["chatglm-6b-v2"].family == "chatglm"
    assert {m.family for m in models.values()} == {"qwen", "llama2", "baichuan", "chatglm"}


def test_base_models_are_deployable_and_fine_tunable() -> None:
    for model in load_catalog().base_models():
        assert model.fine_tunable and model.deployable
        assert model.context_window > 0


def test_bigger_models_get_smaller_default_batches() -> None:
    text_models = sorted((m for m in load_catalog().base_models() if not m.vision), key=lambda m: m.params_b)
    batches = [m.default_batch_size for m in text_models]
    assert batches == sorted(batches, reverse=True)
    sizes = {m.id: m.default_batch_size for m in text_models}
    assert (sizes["qwen2.5-7b-instruct"], sizes["qwen2.5-14b-instruct"], sizes["qwen2.5-72b-instruct"]) == (32, 16, 8)


def test_callable_only_models_cannot_be_fine_tuned() -> None:
    catalog = load_catalog()
    for model_id in ("qwen-plus", "qwen-max"):
        model = catalog.get(model_id)
        assert model is not None and not model.fine_tunable
        assert model not in catalog.base_models()
        assert model in catalog.models()
        assert catalog.supported_methods(model_id, strict=False) == ()
        assert not catalog.supports(model_id, "sft", strict=False)


def test_unknown_model() -> None:
    catalog = load_catalog()
    assert catalog.get("gpt-4") is None
    assert catalog.supported_methods("gpt-4", strict=True) == ()
    assert not catalog.supports("gpt-4", "sft", strict=False)


def test_unknown_method_is_never_supported() -> None:
    assert not load_catalog().supports("qwen2-7b-instruct", "cpt", strict=False)


def _broken(change: str) -> dict[str, Any]:
    document = copy.deepcopy(_document())
    first = document["models"][0]
    if change == "method":
        first["methods"] = ["sft", "rlhf"]
    elif change == "strict":
        first["methods"], first["strict_methods"] = ["sft"], ["dpo_full"]
    elif change == "duplicate":
        document["models"].append(copy.deepcopy(first))
    elif change == "missing":
        del first["params_b"]
    elif change == "family":
        first["family"] = "gpt"
    elif change == "batch":
        first["default_batch_size"] = 0
    elif change == "matrix":
        first["matrix"] = "2027"
    elif change == "hp_defaults":
        first["hp_defaults"] = {"max_length": True}
    return document


@pytest.mark.parametrize(
    "change", ["method", "strict", "duplicate", "missing", "family", "batch", "matrix", "hp_defaults"]
)
def test_parse_catalog_rejects_bad_data(change: str) -> None:
    with pytest.raises(CatalogError):
        parse_catalog(_broken(change))


def test_parse_catalog_needs_a_models_list() -> None:
    with pytest.raises(CatalogError):
        parse_catalog({"models": {}})
