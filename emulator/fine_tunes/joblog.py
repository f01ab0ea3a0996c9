"""A job's log as the API shows it: the synthetic training log mapped onto the job's real timeline.

The training part (``training.training_log``) depends only on stored facts and the seed, so it is built
once per job and cached; what a read sees is the part of the timeline at or before "now", plus the
lines of the job's own events (created, queued, cancel, forced transitions).
"""

from __future__ import annotations

from collections import OrderedDict

from emulator.clock import beijing
from emulator.fine_tunes.hyperparams import EffectiveHyperParameters
from emulator.fine_tunes.states import JobStatus
from emulator.fine_tunes.store import JobRow
from emulator.fine_tunes.training import (
    MAX_LOG_LINES,
    LogLine,
    MetricPoint,
    TrainingPlan,
    training_log,
    training_metrics,
    unsupported_method_log,
)
from emulator.ids import Ids

Entry = tuple[float, str, str]  # (emulated time, level, message)
_CACHE_SIZE = 512
_EPS = 0.001  # training line times are rounded to the millisecond


def plan_of(job: JobRow) -> tuple[TrainingPlan, EffectiveHyperParameters]:
    hp = job.plan["hp"]
    return (
        TrainingPlan(**job.plan["plan"]),
        EffectiveHyperParameters(values=hp["values"], ignored=tuple(hp["ignored"]), notes=tuple(hp["notes"])),
    )


def format_entry(entry: Entry) -> str:
    at, level, message = entry
    moment = beijing(at)
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} - {level} - {message}"


class JobLogs:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self._training: OrderedDict[tuple[str, float], list[LogLine]] = OrderedDict()
        self._metrics: OrderedDict[tuple[str, float], list[MetricPoint]] = OrderedDict()

    def training_lines(self, job: JobRow) -> list[LogLine]:
        key = (job.job_id, job.created_at)
        lines = self._training.get(key)
        if lines is None:
            lines = self._build(job)
            self._remember(self._training, key, lines)
        return lines

    def _build(self, job: JobRow) -> list[LogLine]:
        if job.plan.get("unsupported"):
            return unsupported_method_log(
                model=job.model, training_type=job.training_type, supported=job.plan.get("supported", [])
            )
        plan, hp = plan_of(job)
        return training_log(
            plan,
            hp,
            seed=self.ids.content_seed(job.job_id),
            job_id=job.job_id,
            model=job.model,
            base_model=job.base_model,
            training_type=job.training_type,
            output_model=job.output_model,
            dataset_names=job.plan.get("datasets", []),
        )

    def metrics(self, job: JobRow, now: float) -> list[MetricPoint]:
        """The loss/accuracy points the log has printed so far (the dashboard's chart)."""
        if job.plan.get("unsupported") or job.started_at is None:
            return []
        key = (job.job_id, job.created_at)
        points = self._metrics.get(key)
        if points is None:
            plan, hp = plan_of(job)
            points = training_metrics(plan, hp, seed=self.ids.content_seed(job.job_id), job_id=job.job_id)
            self._remember(self._metrics, key, points)
        cutoff = _cutoff(job, now) - job.started_at
        return [p for p in points if p.at <= cutoff + _EPS]

    def entries(self, job: JobRow, now: float) -> list[Entry]:
        entries: list[Entry] = [
            (
                job.created_at,
                "INFO",
                f"fine-tune job {job.job_id} created: model {job.model}, "
                f"training_type {job.training_type}; status PENDING",
            )
        ]
        if job.queued_at is not None and (job.started_at is None or job.started_at > job.queued_at):
            entries.append(
                (
                    job.queued_at,
                    "INFO",
                    "status QUEUING: another fine-tune job of this account is running; one job trains at a time",
                )
            )
        if job.started_at is not None:
            cutoff = _cutoff(job, now)
            entries += [
                (job.started_at + line.at, line.level, line.message)
                for line in self.training_lines(job)
                if job.started_at + line.at <= cutoff + _EPS
            ]
        entries += _cancel_entries(job)
        entries += [(float(at), str(level), str(text)) for at, level, text in job.events]
        entries = [e for e in entries if e[0] <= now + _EPS]
        entries.sort(key=lambda e: e[0])
        return _bounded(entries)

    def visible(self, job: JobRow, now: float) -> list[str]:
        return [format_entry(e) for e in self.entries(job, now)]

    def next_change(self, job: JobRow, now: float) -> float | None:
        """When this job's log or status can next change by itself (None: only an action can change it)."""
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED):
            return None
        if job.started_at is None:
            return None  # the queue decides; the stream polls at its heartbeat
        later = [job.started_at + line.at for line in self.training_lines(job) if job.started_at + line.at > now]
        return min(later) if later else None

    def forget(self, job_id: str) -> None:
        for cache in (self._training, self._metrics):
            for key in [k for k in cache if k[0] == job_id]:
                del cache[key]

    def clear(self) -> None:
        self._training.clear()
        self._metrics.clear()

    @staticmethod
    def _remember(cache: OrderedDict, key: tuple[str, float], value: list) -> None:  # type: ignore[type-arg]
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def _cutoff(job: JobRow, now: float) -> float:
    if job.status is JobStatus.RUNNING:
        return now
    if job.status in (JobStatus.CANCELING, JobStatus.CANCELED) and job.cancel_at is not None:
        return job.cancel_at
    return job.ended_at if job.ended_at is not None else now


def _cancel_entries(job: JobRow) -> list[Entry]:
    entries: list[Entry] = []
    if (
        job.cancel_at is not None
        and job.started_at is not None
        and job.status in (JobStatus.CANCELING, JobStatus.CANCELED)
    ):
        entries.append((job.cancel_at, "INFO", "cancel requested: stopping the trainer, no model will be saved"))
    if job.status is JobStatus.CANCELED and job.ended_at is not None:
        entries.append((job.ended_at, "INFO", "finetune-job canceled"))
    return entries


def _bounded(entries: list[Entry]) -> list[Entry]:
    """Never 1,000 lines or more: the 1.20.11 CLI would page ``/logs`` forever (reference §4.1)."""
    if len(entries) <= MAX_LOG_LINES:
        return entries
    excess = len(entries) - MAX_LOG_LINES
    keep_head = MAX_LOG_LINES // 2
    return entries[:keep_head] + entries[keep_head + excess :]
