"""Deployment statuses, the legal transitions, and ``advance``: the one place a deployment's status is worked out.

A deployment stores a schedule (when it starts deploying, when it runs, where its ready capacity stood at the
last capacity change, when it failed or started deleting); ``advance`` derives the status, the ready capacity
and ``gmt_modified`` from that schedule and "now".  It is pure: no I/O, no clock of its own.

    PENDING ──30 s──▶ DEPLOYING ──max(60 s, 20 s × capacity)──▶ RUNNING   (ready_capacity +1 every 20 s)
       │                 │                                          │  ▲
       │                 │                                   scale  ▼  │ ready_capacity reaches capacity
       │                 │                                       UPDATING   (ready_capacity ±1 every 20 s)
       └──────┬──────────┴──────────────────────────────────────────┘
              ├──control plane──▶ FAILED ──delete──▶ DELETING
              └──delete────────────────────────────▶ DELETING ──10 s──▶ gone (404)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeploymentStatus(StrEnum):
    PENDING = "PENDING"
    """Accepted; waiting for resources."""
    DEPLOYING = "DEPLOYING"
    """Instances are starting; ``ready_capacity`` climbs towards ``capacity``."""
    RUNNING = "RUNNING"
    """Serving (the SDK constant is ``SERVING``): callable, ``ready_capacity == capacity``."""
    UPDATING = "UPDATING"
    """After a scale (2026 docs): ``capacity`` is the new target, ``ready_capacity`` still moving; callable."""
    FAILED = "FAILED"
    """Broken (only through the control plane); not callable, can be deleted."""
    DELETING = "DELETING"
    """Going offline after a delete; gone (404) a few emulated seconds later."""


TRANSITIONS: dict[DeploymentStatus, frozenset[DeploymentStatus]] = {
    DeploymentStatus.PENDING: frozenset(
        {DeploymentStatus.DEPLOYING, DeploymentStatus.FAILED, DeploymentStatus.DELETING}
    ),
    DeploymentStatus.DEPLOYING: frozenset(
        {DeploymentStatus.RUNNING, DeploymentStatus.FAILED, DeploymentStatus.DELETING}
    ),
    DeploymentStatus.RUNNING: frozenset(
        {DeploymentStatus.UPDATING, DeploymentStatus.FAILED, DeploymentStatus.DELETING}
    ),
    DeploymentStatus.UPDATING: frozenset(
        {DeploymentStatus.RUNNING, DeploymentStatus.FAILED, DeploymentStatus.DELETING}
    ),
    DeploymentStatus.FAILED: frozenset({DeploymentStatus.DELETING}),
    DeploymentStatus.DELETING: frozenset(),
}
SCALABLE = frozenset({DeploymentStatus.RUNNING, DeploymentStatus.UPDATING})
CALLABLE = frozenset({DeploymentStatus.RUNNING, DeploymentStatus.UPDATING})
FINAL_FOR_WATCHERS = frozenset({DeploymentStatus.RUNNING, DeploymentStatus.FAILED})
"""A ``/stream`` of the deployment ends at these statuses (and when it is gone)."""


class IllegalTransition(ValueError):
    def __init__(self, current: DeploymentStatus, target: DeploymentStatus) -> None:
        super().__init__(f"a {current} deployment cannot become {target}")
        self.current = current
        self.target = target


def check_transition(current: DeploymentStatus, target: DeploymentStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


@dataclass(frozen=True)
class Policy:
    pending_seconds: float = 30.0
    deploy_seconds: float = 60.0
    step_seconds: float = 20.0
    """One unit of capacity becomes ready (or is released) every ``step_seconds``."""
    delete_seconds: float = 10.0

    def deploy_duration(self, capacity: int) -> float:
        return max(self.deploy_seconds, self.step_seconds * capacity)


@dataclass
class Schedule:
    """The stored facts a deployment's status derives from (all times on the emulated clock)."""

    created_at: float
    deploy_at: float
    running_at: float
    capacity: int
    ready_base: int
    """Ready capacity at ``ready_base_at``; from there it moves one unit per step towards ``capacity``."""
    ready_base_at: float
    failed_at: float | None = None
    deleting_at: float | None = None

    @classmethod
    def new(cls, now: float, capacity: int, policy: Policy) -> Schedule:
        deploy_at = now + policy.pending_seconds
        return cls(
            created_at=now,
            deploy_at=deploy_at,
            running_at=deploy_at + policy.deploy_duration(capacity),
            capacity=capacity,
            ready_base=0,
            ready_base_at=deploy_at,
        )


@dataclass(frozen=True)
class View:
    status: DeploymentStatus
    ready_capacity: int
    modified_at: float
    gone: bool = False


def advance(s: Schedule, now: float, policy: Policy) -> View:
    if s.deleting_at is not None:
        ready = 0 if s.failed_at is not None else _ready(s, s.deleting_at, policy)
        gone = now >= s.deleting_at + policy.delete_seconds
        return View(DeploymentStatus.DELETING, ready, _modified(s, now, policy), gone)
    if s.failed_at is not None:
        return View(DeploymentStatus.FAILED, 0, _modified(s, now, policy))
    if now < s.deploy_at:
        return View(DeploymentStatus.PENDING, 0, _modified(s, now, policy))
    ready = _ready(s, now, policy)
    if now < s.running_at:
        return View(DeploymentStatus.DEPLOYING, ready, _modified(s, now, policy))
    status = DeploymentStatus.RUNNING if ready == s.capacity else DeploymentStatus.UPDATING
    return View(status, ready, _modified(s, now, policy))


def next_change(s: Schedule, now: float, policy: Policy) -> float | None:
    """The next emulated moment at which ``advance`` answers something else; None when nothing moves by itself."""
    if s.deleting_at is not None:
        gone_at = s.deleting_at + policy.delete_seconds
        return gone_at if now < gone_at else None
    if s.failed_at is not None:
        return None
    if now < s.deploy_at:
        return s.deploy_at
    candidates = [s.running_at] if now < s.running_at else []
    if _ready(s, now, policy) != s.capacity and policy.step_seconds > 0:
        base = max(s.ready_base_at, s.deploy_at)
        steps = int((now - base) // policy.step_seconds) + 1
        candidates.append(base + steps * policy.step_seconds)
    return min(candidates, default=None)


def _ready(s: Schedule, at: float, policy: Policy) -> int:
    if at < s.ready_base_at:
        return 0 if at < s.deploy_at else s.ready_base
    steps = int((at - s.ready_base_at) // policy.step_seconds) if policy.step_seconds > 0 else 1 << 30
    if s.capacity >= s.ready_base:
        return min(s.capacity, s.ready_base + steps)
    return max(s.capacity, s.ready_base - steps)


def _modified(s: Schedule, now: float, policy: Policy) -> float:
    settled_at = s.ready_base_at + abs(s.capacity - s.ready_base) * policy.step_seconds  # UPDATING → RUNNING
    moments = (s.deploy_at, s.running_at, s.ready_base_at, settled_at, s.failed_at, s.deleting_at)
    return max((t for t in moments if t is not None and t <= now), default=s.created_at)


def scale(s: Schedule, status: DeploymentStatus, capacity: int, now: float, policy: Policy) -> None:
    """Ready capacity keeps moving from where it stands now towards the new target."""
    if status not in SCALABLE:
        raise IllegalTransition(status, DeploymentStatus.RUNNING)
    s.ready_base, s.ready_base_at, s.capacity = _ready(s, now, policy), now, capacity


def delete(s: Schedule, status: DeploymentStatus, now: float) -> None:
    """A repeated delete of a DELETING deployment changes nothing."""
    if status is DeploymentStatus.DELETING:
        return
    check_transition(status, DeploymentStatus.DELETING)
    s.deleting_at = now


def force(s: Schedule, status: DeploymentStatus, target: DeploymentStatus, now: float, policy: Policy) -> None:
    """A transition ordered through the control plane; only along the table."""
    check_transition(status, target)
    if target is DeploymentStatus.DEPLOYING:
        s.deploy_at, s.ready_base, s.ready_base_at = now, 0, now
        s.running_at = now + policy.deploy_duration(s.capacity)
    elif target is DeploymentStatus.RUNNING:
        s.running_at, s.ready_base, s.ready_base_at = now, s.capacity, now
    elif target is DeploymentStatus.FAILED:
        s.failed_at = now
    else:
        s.deleting_at = now
