"""The training plan of a fine-tune job and its synthetic metrics and log.

Everything here is pure: the same inputs and seed give the same plan, metrics and log. Times are EMULATED seconds
after the job entered RUNNING; the caller maps them onto its clock (and may speed them up).

Two constraints come from the clients rather than from realism:
- the whole log stays below 1000 lines, because the 1.20.11 CLI pages ``/logs`` until ``total < 1000`` and would
  loop forever otherwise (reference section 4.1), so logging and validation intervals are raised on long jobs;
- the first line is a harmless banner, because the SDKs ask for ``offset=1`` and so never show line one.
"""

from __future__ import annotations

import datetime
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from emulator.catalog import ModelInfo, is_lora
from emulator.fine_tunes.hyperparams import EffectiveHyperParameters, HyperValue

MAX_LOG_LINES = 999  # every log this module writes is at most this long
_STEP_POINT_BUDGET = 400  # training-loss lines at most (plus the last step)
_EVAL_POINT_BUDGET = 150  # validation lines at most (plus the last step)
_MAX_TEXT = 200
_METHOD_COST = {"sft": 1.0, "efficient_sft": 0.6, "dpo_full": 2.0, "dpo_lora": 1.2, "cpt": 1.0}
_METHOD_LABEL = {
    "sft": "full-parameter SFT",
    "efficient_sft": "LoRA SFT",
    "dpo_full": "full-parameter DPO",
    "dpo_lora": "LoRA DPO",
    "cpt": "full-parameter continued pre-training",
}
_POLY_LR_END = 1e-7  # transformers' get_polynomial_decay_schedule_with_warmup default
_INV_SQRT_TIMESCALE = 10_000  # transformers' get_inverse_sqrt_schedule default when there is no warmup

Message = tuple[str, str]  # (level, text)


@dataclass(frozen=True)
class TrainingPlan:
    train_rows: int
    val_rows: int
    dropped_rows: int
    total_rows: int
    steps_per_epoch: int
    total_steps: int
    n_epochs: int
    usage_tokens: int
    log_every: int
    eval_every: int
    startup_seconds: float
    step_seconds: float
    shutdown_seconds: float
    failure: str | None = None
    training_type: str = "sft"
    warmup_steps: int = 0
    auto_split: bool = True
    validation_file_rows: int = 0
    dropped_val_rows: int = 0

    @property
    def duration_seconds(self) -> float:
        return self.startup_seconds + self.total_steps * self.step_seconds + self.shutdown_seconds

    def step_at(self, step: int) -> float:
        """Emulated seconds after RUNNING at which ``step`` finishes."""
        return self.startup_seconds + step * self.step_seconds

    def epoch_of(self, step: int) -> int:
        return min(self.n_epochs, -(-step // self.steps_per_epoch)) if self.steps_per_epoch else 0


@dataclass(frozen=True)
class LogLine:
    at: float
    level: str
    message: str
    step: int | None = None


@dataclass(frozen=True)
class MetricPoint:
    step: int
    epoch: float
    lr: float
    loss: float
    val_loss: float | None
    token_acc: float | None
    at: float


# --------------------------------------------------------------------------------------------------- the plan


def plan_training(
    *,
    train_tokens: Sequence[int],
    val_tokens: Sequence[int] | None,
    hp: EffectiveHyperParameters,
    training_type: str,
    model: ModelInfo,
) -> TrainingPlan:
    """Rows longer than max_length are dropped (the seed: dropped, not truncated), then split off or paired up.

    Without validation files the LAST rows of the training data become the validation set; the real service
    presumably shuffles first, which matters only for which rows count towards usage.
    """
    max_length = hp.int_value("max_length")
    kept = [tokens for tokens in train_tokens if tokens <= max_length]
    kept_val = [tokens for tokens in val_tokens or () if tokens <= max_length]
    rows = _Rows(
        total=len(train_tokens) + len(val_tokens or ()),
        kept=len(kept) + len(kept_val),
        validation_file_rows=len(val_tokens or ()),
        dropped_val=len(val_tokens or ()) - len(kept_val),
        auto_split=not val_tokens,
    )
    if rows.auto_split:
        cut = len(kept) - split_size(len(kept), hp)
        kept, kept_val = kept[:cut], kept[cut:]
    if not kept:
        return _failed_plan(_failure(len(train_tokens), max_length), len(kept_val), rows, hp, training_type)
    return _running_plan(kept, len(kept_val), rows, hp, model, training_type)


@dataclass(frozen=True)
class _Rows:
    total: int
    kept: int
    validation_file_rows: int
    dropped_val: int
    auto_split: bool

    def fields(self) -> dict[str, int | bool]:
        return {
            "total_rows": self.total,
            "dropped_rows": self.total - self.kept,
            "validation_file_rows": self.validation_file_rows,
            "dropped_val_rows": self.dropped_val,
            "auto_split": self.auto_split,
        }


def split_size(rows: int, hp: EffectiveHyperParameters) -> int:
    """Validation rows cut from the training data: at least one when there are two rows, never all of them."""
    if rows < 2:
        return 0
    share = round(rows * (1 - hp.float_value("split")), 9)  # 15 * (1 - 0.9) is 1.4999999999999996 in floats
    wanted = math.floor(share + 0.5)
    return max(1, min(wanted, hp.int_value("max_split_val_dataset_sample"), rows - 1))


def _failure(given_rows: int, max_length: int) -> str:
    if given_rows == 0:
        return "no usable training rows: the training files contain no rows"
    return f"no usable training rows: all {given_rows} rows exceed max_length={max_length}"


def _failed_plan(
    failure: str, val_rows: int, rows: _Rows, hp: EffectiveHyperParameters, training_type: str
) -> TrainingPlan:
    """The data check fails before the model is loaded, so the job dies within seconds."""
    return TrainingPlan(
        train_rows=0,
        val_rows=val_rows,
        steps_per_epoch=0,
        total_steps=0,
        n_epochs=hp.int_value("n_epochs"),
        usage_tokens=0,
        log_every=hp.int_value("logging_steps"),
        eval_every=hp.int_value("eval_steps"),
        startup_seconds=round(8.0 + rows.total * 0.0005, 3),
        step_seconds=0.0,
        shutdown_seconds=2.0,
        failure=failure,
        training_type=training_type,
        **rows.fields(),  # type: ignore[arg-type]
    )


def _running_plan(
    train: list[int], val_rows: int, rows: _Rows, hp: EffectiveHyperParameters, model: ModelInfo, training_type: str
) -> TrainingPlan:
    n_epochs = hp.int_value("n_epochs")
    steps_per_epoch = -(-len(train) // hp.int_value("batch_size"))
    total_steps = steps_per_epoch * n_epochs
    return TrainingPlan(
        train_rows=len(train),
        val_rows=val_rows,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        n_epochs=n_epochs,
        usage_tokens=sum(train) * n_epochs,
        log_every=max(hp.int_value("logging_steps"), -(-total_steps // _STEP_POINT_BUDGET)),
        eval_every=max(hp.int_value("eval_steps"), -(-total_steps // _EVAL_POINT_BUDGET)),
        startup_seconds=round(30.0 + 1.5 * model.params_b + rows.total * 0.002, 3),
        step_seconds=_step_seconds(hp, training_type, model, sum(train) / len(train)),
        shutdown_seconds=_shutdown_seconds(training_type, model),
        training_type=training_type,
        warmup_steps=_warmup_steps(hp, total_steps),
        **rows.fields(),  # type: ignore[arg-type]
    )


def _step_seconds(hp: EffectiveHyperParameters, training_type: str, model: ModelInfo, mean_tokens: float) -> float:
    """Cost grows with tokens per batch and model size; LoRA skips most weight gradients, DPO runs two models.

    Calibrated so that qwen-turbo (guessed 14B), batch 16, ~300-token rows takes ~2.6 s a step, which puts the
    seed's example job (97 minutes) in a plausible range.
    """
    tokens_per_step = hp.int_value("batch_size") * max(1.0, mean_tokens)
    cost = tokens_per_step * model.params_b * 3.5e-5 * _METHOD_COST.get(training_type, 1.0)
    return round(0.3 + cost, 4)


def _shutdown_seconds(training_type: str, model: ModelInfo) -> float:
    """Saving: a LoRA adapter is small, a full checkpoint scales with the model."""
    if is_lora(training_type):
        return round(10.0 + 0.2 * model.params_b, 3)
    return round(20.0 + 1.0 * model.params_b, 3)


def _warmup_steps(hp: EffectiveHyperParameters, total_steps: int) -> int:
    """transformers rounds warmup up; the seed says the constant scheduler ignores warmup."""
    if hp.values["lr_scheduler_type"] == "constant":
        return 0
    return math.ceil(total_steps * hp.float_value("warmup_ratio"))


# --------------------------------------------------------------------------------------------------- the schedule


def learning_rate_at(plan: TrainingPlan, hp: EffectiveHyperParameters, step: int) -> float:
    """The scheduler's learning rate after ``step`` optimizer steps, following transformers' schedules."""
    base = hp.float_value("learning_rate")
    scheduler = str(hp.values["lr_scheduler_type"])
    warmup, total = plan.warmup_steps, max(1, plan.total_steps)
    if scheduler == "constant":
        return base
    if step < warmup:
        return base * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * _decay(scheduler, progress, step, warmup, plan.n_epochs, base)


def _decay(scheduler: str, progress: float, step: int, warmup: int, cycles: int, base: float) -> float:
    """cosine_with_restarts restarts once per epoch (transformers' default is a single cycle, which would make it
    identical to cosine)."""
    if scheduler == "linear":
        return max(0.0, 1.0 - progress)
    if scheduler == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if scheduler == "cosine_with_restarts":
        return 0.0 if progress >= 1.0 else 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0)))
    if scheduler == "polynomial":
        end = min(_POLY_LR_END, base)
        return ((base - end) * max(0.0, 1.0 - progress) + end) / base
    if scheduler == "inverse_sqrt":
        timescale = warmup or _INV_SQRT_TIMESCALE
        return 1.0 / math.sqrt((step + timescale - warmup) / timescale)
    return 1.0  # constant_with_warmup after its warmup


# --------------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class _Curve:
    start: float
    floor: float
    rate: float
    noise: float
    val_gap: float
    dpo: bool


def training_metrics(plan: TrainingPlan, hp: EffectiveHyperParameters, *, seed: int, job_id: str) -> list[MetricPoint]:
    """Metrics at every logged step and every validation step; numbers are rounded exactly as the log shows them.

    Loss decays exponentially towards a floor with seeded noise; DPO's sigmoid loss starts at ln 2.
    """
    if plan.failure is not None or plan.total_steps == 0:
        return []
    rng = random.Random(f"{seed}:{job_id}:metrics")
    curve = _curve(rng, plan.training_type)
    points = []
    for step, is_eval in _metric_steps(plan):
        progress = step / plan.total_steps
        loss = _noisy(rng, _clean_loss(curve, progress), curve.noise)
        val_loss = _val_loss(rng, curve, progress, plan, step) if is_eval else None
        points.append(
            MetricPoint(
                step=step,
                epoch=step / plan.steps_per_epoch,
                lr=float(f"{learning_rate_at(plan, hp, step):.2e}"),
                loss=loss,
                val_loss=val_loss,
                token_acc=None if val_loss is None else _token_acc(curve, val_loss),
                at=round(plan.step_at(step), 3),
            )
        )
    return points


def _metric_steps(plan: TrainingPlan) -> list[tuple[int, bool]]:
    last = plan.total_steps
    logged = set(range(plan.log_every, last + 1, plan.log_every)) | {last}
    evaluated = set(range(plan.eval_every, last + 1, plan.eval_every)) | {last} if plan.val_rows else set()
    return [(step, step in evaluated) for step in sorted(logged | evaluated)]


def _curve(rng: random.Random, training_type: str) -> _Curve:
    dpo = training_type.startswith("dpo")
    return _Curve(
        start=math.log(2) if dpo else rng.uniform(1.6, 2.6),
        floor=rng.uniform(0.12, 0.3) if dpo else rng.uniform(0.35, 0.9),
        rate=rng.uniform(3.0, 6.0),
        noise=rng.uniform(0.015, 0.04),
        val_gap=rng.uniform(1.03, 1.12),
        dpo=dpo,
    )


def _clean_loss(curve: _Curve, progress: float) -> float:
    return curve.floor + (curve.start - curve.floor) * math.exp(-curve.rate * progress)


def _noisy(rng: random.Random, value: float, noise: float) -> float:
    return round(max(0.0001, value * (1.0 + rng.gauss(0.0, noise))), 4)


def _val_loss(rng: random.Random, curve: _Curve, progress: float, plan: TrainingPlan, step: int) -> float:
    """Validation sits a little above training loss and creeps up after a few epochs (mild over-fitting)."""
    overfit = 0.015 * max(0, plan.epoch_of(step) - 2)
    return _noisy(rng, _clean_loss(curve, progress) * curve.val_gap + overfit, curve.noise / 2)


def _token_acc(curve: _Curve, val_loss: float) -> float:
    """For DPO this is the preference accuracy: 0.5 at ln 2, rising as the loss falls."""
    acc = 1.0 - val_loss / (2 * math.log(2)) if curve.dpo else math.exp(-0.45 * val_loss)
    return round(min(1.0, max(0.0, acc)), 4)


# --------------------------------------------------------------------------------------------------- the log


def training_log(
    plan: TrainingPlan,
    hp: EffectiveHyperParameters,
    *,
    seed: int,
    job_id: str,
    model: str,
    base_model: str,
    training_type: str,
    output_model: str,
    dataset_names: Sequence[str],
) -> list[LogLine]:
    names = _Names(_clip(job_id), _clip(model), _clip(base_model), _clip(training_type), _clip(output_model))
    head = _intro_messages(plan, hp, names, dataset_names)
    if plan.failure is not None:
        return _spread(head, 0.0, plan.startup_seconds) + [
            _line(plan.startup_seconds, "ERROR", f"data check failed: {plan.failure}"),
            _line(plan.duration_seconds, "ERROR", "finetune-job failed"),
        ]
    head += _setup_messages(plan, hp, names)
    metrics = training_metrics(plan, hp, seed=seed, job_id=job_id)
    return _startup_lines(plan, head) + _step_lines(plan, metrics) + _end_lines(plan, metrics, names.output_model)


def _startup_lines(plan: TrainingPlan, head: Sequence[Message]) -> list[LogLine]:
    """Checks and settings scroll by quickly; loading the model takes the rest of the start-up time."""
    *quick, (level, last) = head
    return _spread(quick, 0.0, plan.startup_seconds * 0.3) + [_line(plan.startup_seconds * 0.95, level, last)]


@dataclass(frozen=True)
class _Names:
    """User-supplied names, clipped so that no log line can grow without bound."""

    job_id: str
    model: str
    base_model: str
    training_type: str
    output_model: str


def _intro_messages(
    plan: TrainingPlan, hp: EffectiveHyperParameters, names: _Names, dataset_names: Sequence[str]
) -> list[Message]:
    given_train = plan.total_rows - plan.validation_file_rows
    messages = [
        _info(f"finetune-job {names.job_id} is running"),
        _info(
            f"job {names.job_id}: model={names.model}, base_model={names.base_model}, "
            f"training_type={names.training_type}"
        ),
        _info(f"loading datasets: {_bounded_list(dataset_names) or '(none)'}"),
        _info(
            f"data check: {plan.total_rows} rows read ({given_train} training, {plan.validation_file_rows} validation)"
        ),
    ]
    if plan.dropped_rows:
        messages.append(
            _warning(
                f"data check: dropped {plan.dropped_rows} rows longer than "
                f"max_length={hp.values['max_length']} tokens (rows are dropped, not truncated)"
            )
        )
    return messages


def _setup_messages(plan: TrainingPlan, hp: EffectiveHyperParameters, names: _Names) -> list[Message]:
    messages = [_split_message(plan, hp)]
    if plan.val_rows == 0:
        messages.append(_warning("no validation rows: validation loss and token accuracy are not reported"))
    messages.append(_info("hyper-parameters: " + ", ".join(f"{k}={_fmt(v)}" for k, v in hp.values.items())))
    messages += [_warning(note) for note in hp.notes]
    if hp.values["lr_scheduler_type"] == "constant" and hp.float_value("warmup_ratio") > 0:
        messages.append(
            _info(f"warmup_ratio={_fmt(hp.values['warmup_ratio'])} has no effect with lr_scheduler_type=constant")
        )
    label = _METHOD_LABEL.get(names.training_type, names.training_type)
    messages.append(_info(f"loading model {names.model} (base model {names.base_model}) for {label}"))
    messages += _schedule_messages(plan, hp)
    messages.append(_info("start training"))
    return messages


def _split_message(plan: TrainingPlan, hp: EffectiveHyperParameters) -> Message:
    counts = f"{plan.train_rows} training rows, {plan.val_rows} validation rows"
    if plan.auto_split:
        return _info(
            f"train/validation split: {counts} (split={_fmt(hp.values['split'])}, "
            f"max_split_val_dataset_sample={hp.values['max_split_val_dataset_sample']})"
        )
    return _info(f"validation files given: {counts}")


def _schedule_messages(plan: TrainingPlan, hp: EffectiveHyperParameters) -> list[Message]:
    messages = [
        _info(
            f"training plan: {plan.steps_per_epoch} steps per epoch x {plan.n_epochs} epochs = "
            f"{plan.total_steps} steps, {plan.warmup_steps} warmup steps"
        )
    ]
    for key, every in (("logging_steps", plan.log_every), ("eval_steps", plan.eval_every)):
        if every > hp.int_value(key):
            messages.append(_info(f"{key}={hp.values[key]} raised to {every} to keep the log under 1000 lines"))
    return messages


def _step_lines(plan: TrainingPlan, metrics: Sequence[MetricPoint]) -> list[LogLine]:
    lines = []
    for point in metrics:
        lines.append(_line(point.at, "INFO", step_message(plan, point), point.step))
        if point.val_loss is not None:
            lines.append(_line(point.at, "INFO", validation_message(plan, point), point.step))
    return lines


def step_message(plan: TrainingPlan, point: MetricPoint) -> str:
    epoch = f"epoch {plan.epoch_of(point.step)}/{plan.n_epochs}"
    return f"step {point.step}/{plan.total_steps}, {epoch}, lr {point.lr:.2e}, loss {point.loss:.4f}"


def validation_message(plan: TrainingPlan, point: MetricPoint) -> str:
    return (
        f"validation: step {point.step}/{plan.total_steps}, val_loss {point.val_loss:.4f}, "
        f"val_token_acc {point.token_acc:.4f}"
    )


def _end_lines(plan: TrainingPlan, metrics: Sequence[MetricPoint], output_model: str) -> list[LogLine]:
    end_of_training = plan.step_at(plan.total_steps)
    messages = [
        _info(f"training finished: {plan.total_steps} steps, final loss {metrics[-1].loss:.4f}"),
        _info(f"saving model {output_model}"),
        _info("model saved"),
        _info("finetune-job succeeded"),
        _info(f"finetuned output: {output_model}"),
        _info(f"usage: {plan.usage_tokens} tokens"),
    ]
    return _spread(messages, end_of_training, plan.shutdown_seconds) + [
        _line(plan.duration_seconds, "INFO", "##FT_COMPLETE##")
    ]


def unsupported_method_log(*, model: str, training_type: str, supported: Sequence[str]) -> list[LogLine]:
    """The log of a job that was accepted but fails because the model does not offer the training type
    (the seed: "if the model does not support sft, the fine-tune job will fail")."""
    offered = _bounded_list(supported) if supported else "none"
    model, training_type = _clip(model), _clip(training_type)
    return [
        _line(0.0, "INFO", f"finetune-job started: model={model}, training_type={training_type}"),
        _line(1.5, "INFO", f"checking whether model {model} supports training_type={training_type}"),
        _line(
            3.0,
            "ERROR",
            f"training_type {training_type} is not supported by model {model}; supported training types: {offered}",
        ),
        _line(3.5, "ERROR", "finetune-job failed"),
    ]


def format_log_line(started_at: datetime.datetime, line: LogLine) -> str:
    """Python logging's default asctime format, as the real service writes it."""
    moment = started_at + datetime.timedelta(seconds=line.at)
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} - {line.level} - {line.message}"


def _info(text: str) -> Message:
    return ("INFO", text)


def _warning(text: str) -> Message:
    return ("WARNING", text)


def _spread(messages: Sequence[Message], start: float, span: float) -> list[LogLine]:
    """Lay messages out evenly over [start, start + span)."""
    count = max(1, len(messages))
    return [_line(start + span * index / count, level, text) for index, (level, text) in enumerate(messages)]


def _line(at: float, level: str, message: str, step: int | None = None) -> LogLine:
    """One physical line: user-supplied names could carry newlines or be huge."""
    return LogLine(at=round(at, 3), level=level, message=" ".join(message.splitlines()), step=step)


def _bounded_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(_clip(name) for name in names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _fmt(value: HyperValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
