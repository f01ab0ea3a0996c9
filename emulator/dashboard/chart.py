"""Geometry of the job chart: training loss, validation loss and token accuracy against step, as inline SVG.

Pure: metric points in, coordinates out; the template draws them.  Every point keeps its value as the log
prints it (four decimals), so what the chart shows is exactly what the log lines say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from emulator.fine_tunes.training import MetricPoint

WIDTH = 760.0
LEFT = 56.0
RIGHT = 20.0
LOSS_TOP, LOSS_HEIGHT = 18.0, 176.0
ACC_TOP, ACC_HEIGHT = 240.0, 104.0
AXIS_GAP = 22.0
MAX_EPOCH_MARKS = 24
DENSE = 80  # more points than this: smaller dots


@dataclass(frozen=True)
class Point:
    step: int
    label: str  # the value exactly as the log prints it
    x: float
    y: float


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))


@dataclass(frozen=True)
class Tick:
    label: str
    pos: float


@dataclass(frozen=True)
class Panel:
    title: str
    top: float
    height: float
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Row:
    """One line of the chart's data table (the accessible twin of the picture)."""

    step: int
    loss: str
    val_loss: str
    token_acc: str


@dataclass(frozen=True)
class Chart:
    total_steps: int
    panels: tuple[Panel, ...]
    rows: tuple[Row, ...]
    x_ticks: tuple[Tick, ...]
    epoch_marks: tuple[float, ...]
    point_radius: float
    width: float = WIDTH
    left: float = LEFT
    right: float = WIDTH - RIGHT

    @property
    def latest(self) -> dict[str, str]:
        """The last value the log printed for each series (the chart's headline)."""
        found: dict[str, str] = {}
        for row in reversed(self.rows):
            for key in ("loss", "val_loss", "token_acc"):
                value = getattr(row, key)
                if value and key not in found:
                    found[key] = value
        return found

    @property
    def empty(self) -> bool:
        return not any(s.points for p in self.panels for s in p.series)

    @property
    def height(self) -> float:
        return (self.panels[-1].bottom if self.panels else LOSS_TOP + LOSS_HEIGHT) + AXIS_GAP + 16

    @property
    def axis_y(self) -> float:
        return self.height - 16


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``[lo, hi]``."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks, value = [], start
    while value < hi + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


def _scale(lo: float, hi: float, start: float, length: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: start + (v - lo) / span * length


def build_chart(points: Sequence[MetricPoint], total_steps: int, steps_per_epoch: int) -> Chart:
    total = max(1, total_steps)
    x_ticks = nice_ticks(0, total, min(6, total))  # never more ticks than steps: every tick a whole step
    x_ticks = [t for t in x_ticks if t <= total] or [0.0]
    x = _scale(0, max(total, x_ticks[-1]), LEFT, WIDTH - LEFT - RIGHT)
    panels = [_loss_panel(points, x)]
    if any(p.token_acc is not None for p in points):
        panels.append(_accuracy_panel(points, x))
    epochs = range(steps_per_epoch, total, steps_per_epoch) if steps_per_epoch else range(0)
    marks = tuple(x(s) for s in epochs) if len(epochs) <= MAX_EPOCH_MARKS else ()
    rows = tuple(
        Row(
            p.step,
            f"{p.loss:.4f}",
            "" if p.val_loss is None else f"{p.val_loss:.4f}",
            "" if p.token_acc is None else f"{p.token_acc:.4f}",
        )
        for p in points
    )
    return Chart(
        total_steps=total_steps,
        panels=tuple(panels),
        rows=rows,
        x_ticks=tuple(Tick(str(int(t)), x(t)) for t in x_ticks),
        epoch_marks=marks,
        point_radius=2.0 if len(points) > DENSE else 3.2,
    )


def _loss_panel(points: Sequence[MetricPoint], x: Callable[[float], float]) -> Panel:
    values = [p.loss for p in points] + [p.val_loss for p in points if p.val_loss is not None]
    ticks = nice_ticks(0.0, max(values, default=1.0) * 1.04, 4)
    y = _scale(ticks[0], ticks[-1], LOSS_TOP + LOSS_HEIGHT, -LOSS_HEIGHT)
    train = tuple(Point(p.step, f"{p.loss:.4f}", x(p.step), y(p.loss)) for p in points)
    val = tuple(Point(p.step, f"{p.val_loss:.4f}", x(p.step), y(p.val_loss)) for p in points if p.val_loss is not None)
    return Panel(
        "Loss",
        LOSS_TOP,
        LOSS_HEIGHT,
        (Series("loss", "Training loss", train), Series("val_loss", "Validation loss", val)),
        tuple(Tick(_tick_label(t, ticks), y(t)) for t in ticks),
    )


def _accuracy_panel(points: Sequence[MetricPoint], x: Callable[[float], float]) -> Panel:
    values = [p.token_acc for p in points if p.token_acc is not None]
    pad = max(0.02, (max(values) - min(values)) * 0.15)
    ticks = nice_ticks(max(0.0, min(values) - pad), min(1.0, max(values) + pad), 3)
    y = _scale(ticks[0], ticks[-1], ACC_TOP + ACC_HEIGHT, -ACC_HEIGHT)
    acc = tuple(
        Point(p.step, f"{p.token_acc:.4f}", x(p.step), y(p.token_acc)) for p in points if p.token_acc is not None
    )
    return Panel(
        "Token accuracy",
        ACC_TOP,
        ACC_HEIGHT,
        (Series("token_acc", "Validation token accuracy", acc),),
        tuple(Tick(_tick_label(t, ticks), y(t)) for t in ticks),
    )
