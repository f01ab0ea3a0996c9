"""Pure parts of the dashboard: chart geometry, progress on the emulated clock, formatting."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from emulator.dashboard.chart import build_chart, nice_ticks
from emulator.dashboard.templating import duration, log_parts, short, size
from emulator.dashboard.views import job_progress
from emulator.fine_tunes.training import MetricPoint
from tests.dashboard.helpers import advance, new_job


def _point(step: int, loss: float, val: float | None = None, acc: float | None = None) -> MetricPoint:
    return MetricPoint(step=step, epoch=step / 10, lr=1e-5, loss=loss, val_loss=val, token_acc=acc, at=float(step))


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 2.6, [0, 1, 2, 3]),
        (0, 48, [0, 10, 20, 30, 40, 50]),
        (0.61, 0.79, [0.6, 0.65, 0.7, 0.75, 0.8]),
        (0, 1, [0, 0.5, 1.0]),
        (3, 3, [3, 3.5, 4.0]),
    ],
)
def test_nice_ticks(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi, 4 if hi != 48 else 6) == pytest.approx(expected)


def test_chart_keeps_the_log_values_and_orders_points_left_to_right() -> None:
    points = [_point(1, 2.34567), _point(2, 2.1, 2.2222, 0.4), _point(3, 1.9), _point(4, 1.5, 1.8, 0.55)]
    chart = build_chart(points, total_steps=8, steps_per_epoch=4)
    loss, val = chart.panels[0].series
    (acc,) = chart.panels[1].series
    assert [p.label for p in loss.points] == ["2.3457", "2.1000", "1.9000", "1.5000"]
    assert [(p.step, p.label) for p in val.points] == [(2, "2.2222"), (4, "1.8000")]
    assert [p.label for p in acc.points] == ["0.4000", "0.5500"]
    xs = [p.x for p in loss.points]
    assert xs == sorted(xs) and chart.left <= xs[0] and xs[-1] <= chart.right
    ys = [p.y for p in loss.points]
    assert ys == sorted(ys)  # falling loss is drawn going down the page... in SVG, y grows downwards
    assert loss.path.startswith("M") and loss.path.count("L") == 3
    assert len(chart.epoch_marks) == 1 and len(chart.rows) == 4 and chart.rows[1].token_acc == "0.4000"


@pytest.mark.parametrize("total", [*range(1, 40), 47, 48, 99, 100, 101, 997, 4000])
def test_step_ticks_are_whole_distinct_steps(total: int) -> None:
    """A short job's axis once read 0 0 1 1 2 2 3: half steps printed as whole ones."""
    chart = build_chart([_point(1, 1.0)], total_steps=total, steps_per_epoch=total)
    labels = [t.label for t in chart.x_ticks]
    assert labels[0] == "0" and len(set(labels)) == len(labels) and 2 <= len(labels) <= 7
    steps = [int(label) for label in labels]
    assert steps == sorted(steps) and steps[-1] <= total and total - steps[-1] < steps[1] - steps[0]
    assert [t.pos for t in chart.x_ticks] == sorted(t.pos for t in chart.x_ticks)


def test_chart_without_validation_or_points() -> None:
    only_train = build_chart([_point(1, 1.0), _point(2, 0.9)], total_steps=2, steps_per_epoch=2)
    assert len(only_train.panels) == 1 and not only_train.empty
    empty = build_chart([], total_steps=10, steps_per_epoch=5)
    assert empty.empty and empty.height > 0


def test_formatting() -> None:
    assert [duration(s) for s in (None, 0, 9.6, 70, 3600, 3725, 90000)] == [
        "—",
        "0s",
        "10s",
        "1m 10s",
        "1h 00m",
        "1h 02m",
        "1d 01h",
    ]
    assert [size(n) for n in (None, 12, 13_312, 5 * 1024**3)] == ["—", "12 B", "13.0 KB", "5.0 GB"]
    now = 1728705300.0  # 2024-10-12 11:55:00 Beijing
    assert short(now + 60, now) == "11:56:00" and short(now + 86400, now) == "10-13 11:55"
    line = "2024-10-12 11:55:00,000 - INFO - a - b"
    assert " - ".join(log_parts(line)) == line and log_parts("plain") == ("", "", "plain")


@pytest.mark.anyio
async def test_progress_follows_the_clock(app: Starlette, client: httpx.AsyncClient) -> None:
    service = app.state.services.fine_tunes
    job_id = await new_job(client)
    seen = []
    for _ in range(12):
        job = await service.find_job(job_id)
        progress = job_progress(job, app.state.rt.clock.now(), service)
        seen.append((job.status.value, progress.step, progress.phase))
        await advance(client, 10)
    statuses = [s for s, _, _ in seen]
    assert statuses[0] == "PENDING" and "RUNNING" in statuses and statuses[-1] == "SUCCEEDED"
    assert seen[0][2] == "data check" and seen[-1] == ("SUCCEEDED", 48, "done")
    steps = [step for _, step, _ in seen]
    assert steps == sorted(steps)  # never goes backwards
    assert any(phase == "loading the model" for _, _, phase in seen)
    assert any(phase == "training" and 0 < step < 48 for _, step, phase in seen)
