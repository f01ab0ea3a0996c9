from __future__ import annotations

import datetime
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.catalog import ModelInfo, load_catalog
from emulator.fine_tunes.hyperparams import EffectiveHyperParameters, validate_hyper_parameters
from emulator.fine_tunes.training import (
    MAX_LOG_LINES,
    LogLine,
    MetricPoint,
    TrainingPlan,
    format_log_line,
    learning_rate_at,
    plan_training,
    split_size,
    training_log,
    training_metrics,
    unsupported_method_log,
)

STEP_LINE = re.compile(r"step (\d+)/(\d+), epoch (\d+)/(\d+), lr (\S+), loss (\S+)$")
VAL_LINE = re.compile(r"validation: step (\d+)/(\d+), val_loss (\S+), val_token_acc (\S+)$")


def _model(model_id: str = "qwen-turbo") -> ModelInfo:
    model = load_catalog().get(model_id)
    assert model is not None
    return model


def _hp(training_type: str = "sft", model_id: str = "qwen-turbo", **raw: Any) -> EffectiveHyperParameters:
    return validate_hyper_parameters(raw, training_type=training_type, model=_model(model_id))


def _plan(
    rows: int = 1000,
    tokens: int = 300,
    val: list[int] | None = None,
    training_type: str = "sft",
    model_id: str = "qwen-turbo",
    **raw: Any,
) -> tuple[TrainingPlan, EffectiveHyperParameters]:
    hp = _hp(training_type, model_id, **raw)
    plan = plan_training(
        train_tokens=[tokens] * rows, val_tokens=val, hp=hp, training_type=training_type, model=_model(model_id)
    )
    return plan, hp


def _log(plan: TrainingPlan, hp: EffectiveHyperParameters, seed: int = 7, **names: Any) -> list[LogLine]:
    return training_log(
        plan,
        hp,
        seed=seed,
        job_id=names.get("job_id", "ft-202410121111-a590"),
        model=names.get("model", "qwen-turbo"),
        base_model="qwen-turbo",
        training_type=plan.training_type,
        output_model=names.get("output_model", "qwen-turbo-ft-202410121111-a590"),
        dataset_names=names.get("dataset_names", ["train.jsonl"]),
    )


def _messages(lines: list[LogLine]) -> list[str]:
    return [line.message for line in lines]


# --------------------------------------------------------------------------------------------------- the plan


def test_basic_plan() -> None:
    plan, _ = _plan(rows=1000, tokens=300, n_epochs=3, batch_size=16)
    assert (plan.total_rows, plan.train_rows, plan.val_rows, plan.dropped_rows) == (1000, 800, 200, 0)
    assert plan.steps_per_epoch == 50 and plan.total_steps == 150 and plan.n_epochs == 3
    assert plan.usage_tokens == 800 * 300 * 3
    assert plan.failure is None and plan.auto_split


@pytest.mark.parametrize(
    ("rows", "split", "cap", "expected"),
    [
        (1000, 0.8, 1000, 200),
        (10_000, 0.8, 1000, 1000),
        (10_000, 0.8, 50, 50),
        (2, 0.99, 1000, 1),
        (1, 0.5, 1000, 0),
        (2, 0.01, 1000, 1),
        (0, 0.8, 1000, 0),
        (3, 0.9, 1000, 1),
        (15, 0.9, 1000, 2),
    ],
)
def test_split_size(rows: int, split: float, cap: int, expected: int) -> None:
    assert split_size(rows, _hp(split=split, max_split_val_dataset_sample=cap)) == expected


def test_rows_longer_than_max_length_are_dropped_not_truncated() -> None:
    hp = _hp(max_length=512, split=0.5)
    plan = plan_training(
        train_tokens=[100, 600, 200, 513, 512, 300], val_tokens=None, hp=hp, training_type="sft", model=_model()
    )
    assert plan.dropped_rows == 2 and plan.total_rows == 6
    assert (plan.train_rows, plan.val_rows) == (2, 2)
    assert plan.usage_tokens == 100 + 200  # the last kept rows became validation


def test_all_rows_too_long_fails() -> None:
    plan, hp = _plan(rows=40, tokens=600, max_length=512)
    assert plan.failure == "no usable training rows: all 40 rows exceed max_length=512"
    assert plan.total_steps == 0 and plan.usage_tokens == 0 and plan.dropped_rows == 40
    assert plan.duration_seconds < 30
    assert training_metrics(plan, hp, seed=1, job_id="j") == []


def test_no_rows_fails() -> None:
    plan, _ = _plan(rows=0)
    assert plan.failure is not None and "no rows" in plan.failure


def test_validation_files_replace_the_split() -> None:
    plan, _ = _plan(rows=100, tokens=300, val=[100, 5000, 200], max_length=4096)
    assert not plan.auto_split
    assert (plan.train_rows, plan.val_rows, plan.validation_file_rows) == (100, 2, 3)
    assert (plan.dropped_rows, plan.dropped_val_rows, plan.total_rows) == (1, 1, 103)


def test_single_row_trains_without_validation() -> None:
    plan, hp = _plan(rows=1)
    assert (plan.train_rows, plan.val_rows, plan.total_steps) == (1, 0, 1)
    assert all(point.val_loss is None for point in training_metrics(plan, hp, seed=1, job_id="j"))


def test_duration_is_startup_plus_steps_plus_shutdown() -> None:
    plan, _ = _plan()
    expected = plan.startup_seconds + plan.total_steps * plan.step_seconds + plan.shutdown_seconds
    assert plan.duration_seconds == pytest.approx(expected)
    assert plan.startup_seconds > 0 and plan.shutdown_seconds > 0


def test_step_time_grows_with_batch_tokens_and_model_size() -> None:
    base = _plan(batch_size=16, tokens=300)[0].step_seconds
    assert _plan(batch_size=32, tokens=300)[0].step_seconds > base
    assert _plan(batch_size=16, tokens=900)[0].step_seconds > base
    assert _plan(batch_size=16, tokens=300, model_id="qwen2.5-72b-instruct")[0].step_seconds > base
    assert _plan(batch_size=16, tokens=300, model_id="qwen2.5-7b-instruct")[0].step_seconds < base


def test_lora_is_faster_and_dpo_slower() -> None:
    full = _plan(training_type="sft", batch_size=16, model_id="qwen-turbo-0624")[0]
    lora = _plan(training_type="efficient_sft", batch_size=16, model_id="qwen-turbo-0624")[0]
    dpo = _plan(training_type="dpo_full", batch_size=16, model_id="qwen-turbo-0624")[0]
    assert lora.step_seconds < full.step_seconds < dpo.step_seconds
    assert lora.shutdown_seconds < full.shutdown_seconds


def test_log_and_eval_intervals_are_raised_only_when_needed() -> None:
    small, _ = _plan(rows=1000, batch_size=16, logging_steps=3, eval_steps=7)
    assert (small.log_every, small.eval_every) == (3, 7)
    big, _ = _plan(rows=100_000, batch_size=1, n_epochs=10, logging_steps=1, eval_steps=1)
    assert big.log_every > 1 and big.eval_every > 1
    assert big.total_steps // big.log_every <= 400 and big.total_steps // big.eval_every <= 150


def test_warmup_steps() -> None:
    assert _plan(rows=1000, batch_size=10, warmup_ratio=0.05)[0].warmup_steps == 4  # ceil(80 * 0.05)
    assert _plan(rows=1000, batch_size=10, warmup_ratio=0.051)[0].warmup_steps == 5
    assert _plan(rows=1000, warmup_ratio=0.5, lr_scheduler_type="constant")[0].warmup_steps == 0


# --------------------------------------------------------------------------------------------------- the schedule


def _lrs(scheduler: str, warmup_ratio: float = 0.1, n_epochs: int = 1, lr: float = 1e-4) -> list[float]:
    plan, hp = _plan(
        rows=1000,
        batch_size=10,
        lr_scheduler_type=scheduler,
        warmup_ratio=warmup_ratio,
        n_epochs=n_epochs,
        learning_rate=lr,
    )
    return [learning_rate_at(plan, hp, step) for step in range(plan.total_steps + 1)]


@pytest.mark.parametrize(
    "scheduler", ["linear", "cosine", "inverse_sqrt", "polynomial", "cosine_with_restarts", "constant_with_warmup"]
)
def test_warmup_rises_linearly_to_the_peak(scheduler: str) -> None:
    lrs = _lrs(scheduler, warmup_ratio=0.1)  # 80 steps, 8 warmup steps
    assert lrs[0] == 0
    assert lrs[4] == pytest.approx(0.5e-4)
    assert lrs[:9] == sorted(lrs[:9])
    assert lrs[8] == pytest.approx(1e-4)


def test_linear_decays_to_zero() -> None:
    lrs = _lrs("linear")
    assert lrs[8:] == sorted(lrs[8:], reverse=True)
    assert lrs[-1] == 0
    assert lrs[44] == pytest.approx(0.5e-4)


def test_cosine_is_half_way_at_the_middle() -> None:
    lrs = _lrs("cosine")
    assert lrs[8:] == sorted(lrs[8:], reverse=True)
    assert lrs[44] == pytest.approx(0.5e-4)
    assert lrs[20] > 0.5e-4 + (0.5e-4 - lrs[68]) * 0.99  # flatter start than linear
    assert lrs[-1] == pytest.approx(0, abs=1e-12)


def test_constant_ignores_warmup() -> None:
    assert set(_lrs("constant", warmup_ratio=0.5)) == {1e-4}


def test_constant_with_warmup_stays_at_the_peak() -> None:
    assert set(_lrs("constant_with_warmup")[8:]) == {1e-4}


def test_inverse_sqrt() -> None:
    lrs = _lrs("inverse_sqrt")
    assert lrs[32] == pytest.approx(1e-4 * math.sqrt(8 / 32))
    assert lrs[8:] == sorted(lrs[8:], reverse=True)
    no_warmup = _lrs("inverse_sqrt", warmup_ratio=0)
    assert no_warmup[-1] == pytest.approx(1e-4 / math.sqrt((80 + 10_000) / 10_000))


def test_polynomial_ends_at_lr_end() -> None:
    lrs = _lrs("polynomial")
    assert lrs[-1] == pytest.approx(1e-7)
    assert lrs[8:] == sorted(lrs[8:], reverse=True)


def test_cosine_with_restarts_restarts_every_epoch() -> None:
    lrs = _lrs("cosine_with_restarts", warmup_ratio=0, n_epochs=2)  # 160 steps, 2 cycles
    assert lrs[79] < 1e-6 and lrs[80] == pytest.approx(1e-4)
    assert lrs[-1] == 0


# --------------------------------------------------------------------------------------------------- metrics


def test_metrics_are_deterministic() -> None:
    plan, hp = _plan(n_epochs=3)
    first = training_metrics(plan, hp, seed=3, job_id="ft-1")
    assert first == training_metrics(plan, hp, seed=3, job_id="ft-1")
    assert first != training_metrics(plan, hp, seed=4, job_id="ft-1")
    assert first != training_metrics(plan, hp, seed=3, job_id="ft-2")


def test_metric_steps_follow_logging_and_eval_intervals() -> None:
    plan, hp = _plan(rows=1000, batch_size=16, n_epochs=3, logging_steps=10, eval_steps=25)  # 150 steps
    points = training_metrics(plan, hp, seed=1, job_id="j")
    steps = [p.step for p in points]
    assert steps == sorted(set(range(10, 151, 10)) | set(range(25, 151, 25)))
    assert [p.step for p in points if p.val_loss is not None] == [25, 50, 75, 100, 125, 150]
    assert all((p.token_acc is None) == (p.val_loss is None) for p in points)
    assert points[-1].step == plan.total_steps and points[-1].val_loss is not None


def test_last_step_is_always_reported() -> None:
    plan, hp = _plan(rows=1000, batch_size=16, n_epochs=1, logging_steps=7, eval_steps=40)  # 50 steps
    points = training_metrics(plan, hp, seed=1, job_id="j")
    assert points[-1].step == 50 and points[-1].val_loss is not None


def test_loss_falls_and_values_are_sane() -> None:
    plan, hp = _plan(rows=4000, batch_size=8, n_epochs=3, logging_steps=1)
    points = training_metrics(plan, hp, seed=11, job_id="j")
    quarter = len(points) // 4
    assert sum(p.loss for p in points[:quarter]) > sum(p.loss for p in points[-quarter:]) * 1.5
    assert all(p.loss > 0 and p.lr >= 0 for p in points)
    assert all(0 <= p.token_acc <= 1 for p in points if p.token_acc is not None)
    vals = [p for p in points if p.val_loss is not None]
    assert vals[0].token_acc is not None and vals[-1].token_acc is not None
    assert vals[-1].token_acc > vals[0].token_acc


def test_dpo_loss_starts_near_ln2() -> None:
    plan, hp = _plan(training_type="dpo_full", model_id="qwen2-7b-instruct", logging_steps=1)
    points = training_metrics(plan, hp, seed=5, job_id="j")
    assert points[0].loss == pytest.approx(math.log(2), rel=0.15)
    assert points[-1].loss < 0.5


def test_metric_epoch_and_time() -> None:
    plan, hp = _plan(rows=1000, batch_size=16, n_epochs=3)
    for point in training_metrics(plan, hp, seed=1, job_id="j"):
        assert point.epoch == point.step / plan.steps_per_epoch
        assert point.at == pytest.approx(plan.startup_seconds + point.step * plan.step_seconds, abs=1e-3)


def test_metric_numbers_are_rounded_like_the_log() -> None:
    plan, hp = _plan(n_epochs=2, learning_rate=1.234567e-5)
    for point in training_metrics(plan, hp, seed=1, job_id="j"):
        assert float(f"{point.lr:.2e}") == point.lr and round(point.loss, 4) == point.loss
        if point.val_loss is not None and point.token_acc is not None:
            assert round(point.val_loss, 4) == point.val_loss and round(point.token_acc, 4) == point.token_acc


# --------------------------------------------------------------------------------------------------- the log


def test_log_shape() -> None:
    plan, hp = _plan(n_epochs=2, prompt_loss=1, lora_rank=4, foo="bar")
    messages = _messages(_log(plan, hp))
    assert messages[0] == "finetune-job ft-202410121111-a590 is running"
    assert messages[-1] == "##FT_COMPLETE##"
    assert "finetune-job succeeded" in messages
    assert "finetuned output: qwen-turbo-ft-202410121111-a590" in messages
    assert f"usage: {plan.usage_tokens} tokens" in messages
    assert any(m.startswith("prompt_loss is ignored") for m in messages)
    assert any(m.startswith("lora_rank is ignored") for m in messages)
    assert "unknown hyper-parameters ignored: foo" in messages
    assert "loading datasets: train.jsonl" in messages
    assert any("800 training rows, 200 validation rows" in m for m in messages)


def test_hyper_parameter_line_lists_every_effective_value() -> None:
    plan, hp = _plan(training_type="efficient_sft", learning_rate="1.6e-5", target_modules="all")
    line = next(m for m in _messages(_log(plan, hp)) if m.startswith("hyper-parameters: "))
    for key in hp.values:
        assert f"{key}=" in line
    assert "learning_rate=1.6e-05" in line and "target_modules=ALL" in line and "lora_rank=8" in line


def test_dropped_rows_are_reported() -> None:
    hp = _hp(max_length=512)
    plan = plan_training(
        train_tokens=[100] * 30 + [600] * 10, val_tokens=None, hp=hp, training_type="sft", model=_model()
    )
    messages = _messages(_log(plan, hp))
    assert any("dropped 10 rows longer than max_length=512" in m for m in messages)


def test_log_and_metrics_agree() -> None:
    plan, hp = _plan(rows=3000, batch_size=8, n_epochs=3, logging_steps=3, eval_steps=20)
    lines = _log(plan, hp, seed=9)
    points = {p.step: p for p in training_metrics(plan, hp, seed=9, job_id="ft-202410121111-a590")}
    step_lines = [line for line in lines if STEP_LINE.match(line.message)]
    val_lines = [line for line in lines if VAL_LINE.match(line.message)]
    assert [line.step for line in step_lines] == sorted(points)
    for line in step_lines:
        match = STEP_LINE.match(line.message)
        assert match is not None and line.step is not None
        point = points[line.step]
        step, total, epoch, epochs, lr, loss = match.groups()
        assert (int(step), int(total), int(epochs)) == (point.step, plan.total_steps, plan.n_epochs)
        assert int(epoch) == math.ceil(point.step / plan.steps_per_epoch)
        assert (float(lr), float(loss), line.at) == (point.lr, point.loss, point.at)
    assert [line.step for line in val_lines] == [s for s, p in points.items() if p.val_loss is not None]
    for line in val_lines:
        match = VAL_LINE.match(line.message)
        assert match is not None and line.step is not None
        point = points[line.step]
        assert (float(match.group(3)), float(match.group(4))) == (point.val_loss, point.token_acc)


def test_log_times_never_go_backwards_and_end_at_the_duration() -> None:
    plan, hp = _plan(n_epochs=2)
    lines = _log(plan, hp)
    times = [line.at for line in lines]
    assert times == sorted(times) and times[0] == 0
    assert times[-1] == pytest.approx(plan.duration_seconds, abs=1e-3)
    start = [line for line in lines if line.message == "start training"][0]
    assert start.at < plan.startup_seconds


def test_log_is_deterministic() -> None:
    plan, hp = _plan()
    assert _log(plan, hp, seed=1) == _log(plan, hp, seed=1)
    assert _log(plan, hp, seed=1) != _log(plan, hp, seed=2)


EXTREMES = [
    dict(rows=200_000, batch_size=1, n_epochs=100, logging_steps=1, eval_steps=1),
    dict(rows=200_000, batch_size=1, n_epochs=1, logging_steps=1, eval_steps=1, split=0.01),
    dict(rows=1001, batch_size=1, n_epochs=1, logging_steps=1, eval_steps=1),
    dict(rows=1, batch_size=1024, n_epochs=1, logging_steps=1, eval_steps=1),
    dict(rows=5000, batch_size=1, n_epochs=100, logging_steps=10**6, eval_steps=10**6),
]


@pytest.mark.parametrize("raw", EXTREMES)
def test_log_stays_under_1000_lines(raw: dict[str, Any]) -> None:
    plan, hp = _plan(**raw)
    lines = _log(plan, hp)
    assert len(lines) <= MAX_LOG_LINES < 1000
    assert lines[-1].message == "##FT_COMPLETE##"


def test_huge_inputs_stay_bounded() -> None:
    raw = {f"unknown_{i}": i for i in range(10_000)}
    plan, hp = _plan(rows=50_000, batch_size=1, n_epochs=50, logging_steps=1, eval_steps=1, **raw)
    lines = _log(plan, hp, model="m\r\n\u2028" * 10_000, output_model="o" * 100_000, dataset_names=["d.jsonl"] * 10_000)
    assert len(lines) < 1000
    assert all(len(line.message) < 1000 and len(line.message.splitlines()) == 1 for line in lines)


def test_failed_plan_log() -> None:
    plan, hp = _plan(rows=40, tokens=600, max_length=512)
    lines = _log(plan, hp)
    assert lines[-1].message == "finetune-job failed" and lines[-1].level == "ERROR"
    errors = [line for line in lines if line.level == "ERROR"]
    assert "no usable training rows: all 40 rows exceed max_length=512" in errors[0].message
    assert not any(STEP_LINE.match(line.message) for line in lines)
    assert "finetune-job succeeded" not in _messages(lines)
    assert lines[-1].at == pytest.approx(plan.duration_seconds)
    assert len(lines) < 10


def test_unsupported_method_log() -> None:
    lines = unsupported_method_log(model="qwen-vl-plus", training_type="dpo_full", supported=["sft", "efficient_sft"])
    error = next(line for line in lines if line.level == "ERROR")
    assert "qwen-vl-plus" in error.message and "dpo_full" in error.message
    assert "supported training types: sft, efficient_sft" in error.message
    assert lines[-1].message == "finetune-job failed"
    assert [line.at for line in lines] == sorted(line.at for line in lines)


def test_unsupported_method_log_for_an_unknown_model() -> None:
    lines = unsupported_method_log(model="gpt-4", training_type="sft", supported=[])
    assert any(line.message.endswith("supported training types: none") for line in lines)


def test_format_log_line() -> None:
    started = datetime.datetime(2024, 10, 29, 17, 11, 20)
    line = LogLine(at=4.689, level="INFO", message="finetune-job succeeded", step=None)
    assert format_log_line(started, line) == "2024-10-29 17:11:24,689 - INFO - finetune-job succeeded"
    late = LogLine(at=3600.0005, level="ERROR", message="x")
    assert format_log_line(started, late) == "2024-10-29 18:11:20,000 - ERROR - x"


def test_metric_point_and_log_line_are_plain_values() -> None:
    point = MetricPoint(step=1, epoch=0.5, lr=1e-5, loss=1.0, val_loss=None, token_acc=None, at=1.0)
    assert point == MetricPoint(step=1, epoch=0.5, lr=1e-5, loss=1.0, val_loss=None, token_acc=None, at=1.0)


@settings(max_examples=60, deadline=None)
@given(
    tokens=st.lists(st.integers(1, 5000), max_size=300),
    val=st.none() | st.lists(st.integers(1, 5000), max_size=20),
    batch_size=st.integers(1, 64),
    n_epochs=st.integers(1, 100),
    logging_steps=st.integers(1, 50),
    eval_steps=st.integers(1, 50),
    max_length=st.integers(1, 6000),
    training_type=st.sampled_from(["sft", "efficient_sft", "dpo_full", "dpo_lora"]),
    scheduler=st.sampled_from(
        ["linear", "cosine", "constant", "inverse_sqrt", "polynomial", "cosine_with_restarts", "constant_with_warmup"]
    ),
    seed=st.integers(0, 2**32),
)
def test_any_plan_gives_a_well_formed_log(
    tokens: list[int],
    val: list[int] | None,
    batch_size: int,
    n_epochs: int,
    logging_steps: int,
    eval_steps: int,
    max_length: int,
    training_type: str,
    scheduler: str,
    seed: int,
) -> None:
    hp = _hp(
        training_type,
        "qwen2-7b-instruct",
        batch_size=batch_size,
        n_epochs=n_epochs,
        max_length=max_length,
        logging_steps=logging_steps,
        eval_steps=eval_steps,
        lr_scheduler_type=scheduler,
    )
    plan = plan_training(
        train_tokens=tokens, val_tokens=val, hp=hp, training_type=training_type, model=_model("qwen2-7b-instruct")
    )
    lines = _log(plan, hp, seed=seed)
    assert 0 < len(lines) < 1000
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert plan.train_rows + plan.val_rows + plan.dropped_rows == plan.total_rows
    if plan.failure is None:
        assert lines[-1].message == "##FT_COMPLETE##"
        assert plan.total_steps == math.ceil(plan.train_rows / batch_size) * n_epochs
    else:
        assert lines[-1].message == "finetune-job failed"
