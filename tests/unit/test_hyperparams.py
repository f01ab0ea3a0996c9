from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.catalog import TRAINING_TYPES, ModelInfo, load_catalog
from emulator.fine_tunes.hyperparams import (
    KNOWN_KEYS,
    SPECS,
    EffectiveHyperParameters,
    HyperParameterError,
    default_learning_rate,
    validate_hyper_parameters,
)

COMMON_KEYS = [
    "n_epochs",
    "batch_size",
    "learning_rate",
    "split",
    "max_split_val_dataset_sample",
    "lr_scheduler_type",
    "eval_steps",
    "max_length",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "logging_steps",
]
LORA_KEYS = ["lora_rank", "lora_alpha", "lora_dropout", "target_modules"]
INT_KEYS = {spec.key for spec in SPECS if spec.kind == "int"}
FLOAT_KEYS = {spec.key for spec in SPECS if spec.kind == "float"}


def _model(model_id: str = "qwen-turbo") -> ModelInfo:
    model = load_catalog().get(model_id)
    assert model is not None
    return model


def _validate(
    raw: dict[str, Any] | None, training_type: str = "sft", model_id: str = "qwen-turbo"
) -> EffectiveHyperParameters:
    return validate_hyper_parameters(raw, training_type=training_type, model=_model(model_id))


def _error(raw: dict[str, Any], training_type: str = "efficient_sft") -> HyperParameterError:
    with pytest.raises(HyperParameterError) as info:
        _validate(raw, training_type)
    return info.value


def test_seed_defaults_for_sft() -> None:
    effective = _validate(None)
    assert effective.values == {
        "n_epochs": 1,
        "batch_size": 16,
        "learning_rate": 1e-5,
        "split": 0.8,
        "max_split_val_dataset_sample": 1000,
        "lr_scheduler_type": "cosine",
        "eval_steps": 50,
        "max_length": 2048,
        "warmup_ratio": 0.05,
        "weight_decay": 0.1,
        "max_grad_norm": 1.0,
        "logging_steps": 5,
    }
    assert effective.ignored == () and effective.notes == ()


@pytest.mark.parametrize("training_type", TRAINING_TYPES)
def test_lora_keys_only_for_lora_methods(training_type: str) -> None:
    values = _validate({}, training_type).values
    lora = training_type in ("efficient_sft", "dpo_lora")
    assert list(values) == COMMON_KEYS + (LORA_KEYS if lora else [])
    if lora:
        assert (values["lora_rank"], values["lora_alpha"], values["lora_dropout"]) == (8, 32.0, 0.1)
        assert values["target_modules"] == "AUTO"


@pytest.mark.parametrize(
    ("model_id", "training_type", "expected"),
    [
        ("qwen2.5-7b-instruct", "sft", 2e-5),
        ("qwen2.5-7b-instruct", "efficient_sft", 2e-4),
        ("qwen-turbo", "sft", 1e-5),
        ("qwen-turbo", "efficient_sft", 1e-4),
        ("qwen-turbo-0624", "dpo_full", 1e-5),
        ("qwen-turbo-0624", "dpo_lora", 1e-5),
        ("qwen2.5-72b-instruct", "sft", 5e-6),
        ("qwen2.5-72b-instruct", "efficient_sft", 5e-5),
    ],
)
def test_default_learning_rate_follows_method_and_size(model_id: str, training_type: str, expected: float) -> None:
    assert _validate({}, training_type, model_id).values["learning_rate"] == pytest.approx(expected)


def test_default_learning_rate_without_a_model() -> None:
    assert default_learning_rate("sft", None) == 1e-5
    assert default_learning_rate("efficient_sft", None) == 1e-4


def test_default_batch_size_comes_from_the_catalog() -> None:
    assert _validate({}, "sft", "qwen2.5-7b-instruct").values["batch_size"] == 32
    assert _validate({}, "sft", "qwen2.5-72b-instruct").values["batch_size"] == 8
    assert validate_hyper_parameters({}, training_type="sft", model=None).values["batch_size"] == 16


def test_the_1_20_11_cli_wire_example() -> None:
    raw = {
        "n_epochs": 1,
        "batch_size": 16,
        "learning_rate": 1.6e-05,
        "split": "0.9",
        "warmup_ratio": "0.0",
        "eval_steps": "1",
    }
    values = _validate(raw).values
    assert values["split"] == 0.9 and values["warmup_ratio"] == 0.0 and values["eval_steps"] == 1
    assert isinstance(values["eval_steps"], int)


def test_the_seed_http_example_with_a_string_learning_rate() -> None:
    assert _validate({"learning_rate": "1.6e-5"}).values["learning_rate"] == 1.6e-5


@pytest.mark.parametrize("value", [16, 16.0, "16", "16.0", " 16 ", "1.6e1", "+16"])
def test_integer_forms(value: object) -> None:
    values = _validate({"batch_size": value}).values
    assert values["batch_size"] == 16 and type(values["batch_size"]) is int


@pytest.mark.parametrize("value", [16.5, "16.5", True, False, "abc", "", [16], {"v": 16}, "0x10", "1_6", "nan"])
def test_not_an_integer(value: object) -> None:
    assert _error({"batch_size": value}).key == "batch_size"


@pytest.mark.parametrize(
    "value", [True, "true", "nan", "NaN", "inf", "-inf", "1e999", float("nan"), float("inf"), 10**400, "", "1e-5x"]
)
def test_not_a_finite_number(value: object) -> None:
    assert _error({"weight_decay": value}).key == "weight_decay"


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("n_epochs", 0),
        ("n_epochs", 101),
        ("n_epochs", -1),
        ("batch_size", 0),
        ("batch_size", 1025),
        ("learning_rate", 0),
        ("learning_rate", 1),
        ("learning_rate", -1e-5),
        ("learning_rate", "0"),
        ("split", 0),
        ("split", 1),
        ("split", "1.0"),
        ("max_split_val_dataset_sample", 0),
        ("eval_steps", 0),
        ("max_length", 0),
        ("max_length", 32769),
        ("warmup_ratio", -0.01),
        ("warmup_ratio", 1),
        ("weight_decay", -0.1),
        ("max_grad_norm", 0),
        ("max_grad_norm", -1),
        ("logging_steps", 0),
        ("lora_rank", 0),
        ("lora_rank", 1025),
        ("lora_rank", 8.5),
        ("lora_alpha", 0),
        ("lora_alpha", -32),
        ("lora_dropout", -0.1),
        ("lora_dropout", 1),
        ("target_modules", "some"),
        ("target_modules", 1),
        ("lr_scheduler_type", "exponential"),
        ("lr_scheduler_type", 5),
    ],
)
def test_out_of_range(key: str, bad: object) -> None:
    error = _error({key: bad})
    assert error.key == key
    assert error.message.startswith(f"hyper_parameters.{key} must be ")
    assert str(error) == error.message


@pytest.mark.parametrize(
    ("key", "good", "expected"),
    [
        ("n_epochs", 1, 1),
        ("n_epochs", 100, 100),
        ("batch_size", 1, 1),
        ("batch_size", 1024, 1024),
        ("learning_rate", 1e-9, 1e-9),
        ("learning_rate", 0.999, 0.999),
        ("split", "0.01", 0.01),
        ("split", 0.99, 0.99),
        ("max_length", 32768, 32768),
        ("max_length", 1, 1),
        ("warmup_ratio", 0, 0.0),
        ("warmup_ratio", 0.99, 0.99),
        ("weight_decay", 0, 0.0),
        ("weight_decay", 5, 5.0),
        ("max_grad_norm", 0.01, 0.01),
        ("lora_rank", 1024, 1024),
        ("lora_rank", "64", 64),
        ("lora_alpha", 0.5, 0.5),
        ("lora_alpha", 16, 16.0),
        ("lora_dropout", 0, 0.0),
        ("target_modules", "all", "ALL"),
        ("target_modules", "Auto", "AUTO"),
        ("lr_scheduler_type", "Inverse_sqrt", "inverse_sqrt"),
        ("lr_scheduler_type", "LINEAR", "linear"),
        ("lr_scheduler_type", "constant_with_warmup", "constant_with_warmup"),
    ],
)
def test_boundaries_accepted(key: str, good: object, expected: object) -> None:
    value = _validate({key: good}, "efficient_sft").values[key]
    assert value == expected and type(value) is type(expected)


def test_error_message_format() -> None:
    error = _error({"n_epochs": "0"})
    assert error.message == "hyper_parameters.n_epochs must be an integer between 1 and 100 (got '0')"
    expected = "hyper_parameters.learning_rate must be a number > 0 and < 1 (got true)"
    assert _error({"learning_rate": True}).message == expected
    assert _error({"warmup_ratio": 1}).message == "hyper_parameters.warmup_ratio must be a number >= 0 and < 1 (got 1)"
    assert _error({"eval_steps": 0}).message == "hyper_parameters.eval_steps must be an integer >= 1 (got 0)"
    assert _error({"lora_alpha": 0}).message == "hyper_parameters.lora_alpha must be a number > 0 (got 0)"
    assert "one of AUTO, ALL" in _error({"target_modules": "x"}).message


def test_huge_values_in_messages_stay_short() -> None:
    assert len(_error({"n_epochs": 10**5000}).message) < 120
    assert len(_error({"lr_scheduler_type": "x" * 10_000}).message) < 250


def test_first_bad_key_follows_table_order_not_dict_order() -> None:
    assert _error({"logging_steps": 0, "batch_size": 0, "n_epochs": 0}).key == "n_epochs"
    assert _error({"lora_rank": 0, "max_length": 0}).key == "max_length"


def test_null_means_not_given() -> None:
    assert _validate({"n_epochs": None, "learning_rate": None}).values == _validate({}).values


def test_hyper_parameters_must_be_an_object() -> None:
    with pytest.raises(HyperParameterError) as info:
        validate_hyper_parameters([1, 2], training_type="sft", model=None)  # type: ignore[arg-type]
    assert info.value.key == "hyper_parameters"


def test_unknown_keys_are_ignored_and_reported() -> None:
    effective = _validate({"zeta": 1, "alpha": "x", "n_epochs": 2})
    assert effective.ignored == ("alpha", "zeta")
    assert "alpha" not in effective.values
    assert effective.notes == ("unknown hyper-parameters ignored: alpha, zeta",)


def test_prompt_loss_is_accepted_and_ignored() -> None:
    effective = _validate({"prompt_loss": 0.5})
    assert effective.ignored == ("prompt_loss",)
    assert "prompt_loss" not in effective.values
    assert any(note.startswith("prompt_loss is ignored") for note in effective.notes)


def test_lora_keys_with_a_full_method_are_ignored_without_validation() -> None:
    effective = _validate({"lora_rank": 0, "target_modules": "ALL"}, "dpo_full")
    assert effective.ignored == ("lora_rank", "target_modules")
    assert "lora_rank" not in effective.values
    assert effective.notes == (
        "lora_rank, target_modules are ignored: LoRA settings apply to efficient_sft/dpo_lora only "
        "(training_type=dpo_full)",
    )


def test_many_unknown_keys_give_one_bounded_note() -> None:
    effective = _validate({f"key{i:05d}": i for i in range(5000)})
    assert len(effective.ignored) == 5000
    assert len(effective.notes) == 1 and effective.notes[0].endswith("and 4990 more")


def test_known_keys() -> None:
    assert KNOWN_KEYS == set(COMMON_KEYS) | set(LORA_KEYS) | {"prompt_loss"}


# ------------------------------------------------------------------------------------------- property-based

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_numeric_text = st.one_of(
    st.integers(-5, 5000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0.9", "1", "1.6e-5", " 2 ", "1e3", "Inverse_sqrt", "ALL", "auto", "16.0", "-0"]),
)
_values = _json | _numeric_text
_keys = st.sampled_from(sorted(KNOWN_KEYS)) | st.text(max_size=8)
_models = st.sampled_from([None, *load_catalog().models()])
_training_types = st.sampled_from(TRAINING_TYPES) | st.text(max_size=6)


@settings(max_examples=200, deadline=None)
@given(raw=st.dictionaries(_keys, _values, max_size=8), training_type=_training_types, model=_models)
def test_only_hyper_parameter_errors_escape(
    raw: dict[str, object], training_type: str, model: ModelInfo | None
) -> None:
    try:
        effective = validate_hyper_parameters(raw, training_type=training_type, model=model)
    except HyperParameterError as error:
        assert error.key in KNOWN_KEYS
        assert error.message.startswith(f"hyper_parameters.{error.key} must be ")
        return
    for key, value in effective.values.items():
        assert not isinstance(value, bool)
        if key in INT_KEYS:
            assert type(value) is int
        if key in FLOAT_KEYS:
            assert type(value) is float
    assert set(effective.ignored) <= set(raw)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 100), lr=st.floats(1e-9, 0.9))
def test_numeric_strings_mean_the_same_as_numbers(n: int, lr: float) -> None:
    as_numbers = _validate({"n_epochs": n, "learning_rate": lr})
    as_strings = _validate({"n_epochs": str(n), "learning_rate": repr(lr)})
    assert as_numbers == as_strings
