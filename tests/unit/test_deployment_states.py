"""The deployment state machine: pure, no app, no database."""

from __future__ import annotations

import pytest

from emulator.deployments.states import (
    TRANSITIONS,
    DeploymentStatus,
    IllegalTransition,
    Policy,
    Schedule,
    advance,
    delete,
    force,
    next_change,
    scale,
)

S = DeploymentStatus
POLICY = Policy()


def at(schedule: Schedule, now: float) -> tuple[S, int]:
    view = advance(schedule, now, POLICY)
    return view.status, view.ready_capacity


def test_pending_deploying_running_with_ready_capacity_climbing() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    assert [at(s, t) for t in (0, 29.9, 30, 49.9, 50, 70, 89.9, 90, 10_000)] == [
        (S.PENDING, 0),
        (S.PENDING, 0),
        (S.DEPLOYING, 0),
        (S.DEPLOYING, 0),
        (S.DEPLOYING, 1),
        (S.DEPLOYING, 2),
        (S.DEPLOYING, 2),
        (S.RUNNING, 2),
        (S.RUNNING, 2),
    ]


def test_a_big_deployment_deploys_longer() -> None:
    s = Schedule.new(0.0, 10, POLICY)
    assert at(s, 30 + 199) == (S.DEPLOYING, 9)
    assert at(s, 30 + 200) == (S.RUNNING, 10)


def test_modified_time_follows_the_last_change() -> None:
    s = Schedule.new(100.0, 1, POLICY)
    assert advance(s, 110, POLICY).modified_at == 100
    assert advance(s, 140, POLICY).modified_at == 130
    assert advance(s, 500, POLICY).modified_at == 190


def test_scale_moves_ready_capacity_one_step_at_a_time_both_ways() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    scale(s, S.RUNNING, 4, 100, POLICY)
    assert [at(s, t) for t in (100, 119, 120, 140, 500)] == [
        (S.UPDATING, 2),
        (S.UPDATING, 2),
        (S.UPDATING, 3),
        (S.RUNNING, 4),
        (S.RUNNING, 4),
    ]
    assert [next_change(s, t, POLICY) for t in (100, 119, 120, 140)] == [120, 120, 140, None]
    scale(s, S.RUNNING, 1, 600, POLICY)
    assert [at(s, t) for t in (600, 620, 640, 660, 700)] == [
        (S.UPDATING, 4),
        (S.UPDATING, 3),
        (S.UPDATING, 2),
        (S.RUNNING, 1),
        (S.RUNNING, 1),
    ]
    assert advance(s, 630, POLICY).modified_at == 600
    assert advance(s, 700, POLICY).modified_at == 660  # when it became RUNNING again


def test_scale_mid_way_starts_from_where_ready_capacity_stands() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    scale(s, S.RUNNING, 6, 100, POLICY)
    scale(s, S.UPDATING, 3, 145, POLICY)  # 4 ready by then
    assert at(s, 145) == (S.UPDATING, 4)
    assert at(s, 165) == (S.RUNNING, 3)


def test_next_change_follows_the_schedule() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    assert [next_change(s, t, POLICY) for t in (0, 29, 30, 50, 70, 89)] == [30, 30, 50, 70, 90, 90]
    assert next_change(s, 90, POLICY) is None
    delete(s, S.RUNNING, 200)
    assert (next_change(s, 200, POLICY), next_change(s, 210, POLICY)) == (210, None)


@pytest.mark.parametrize("status", [S.PENDING, S.DEPLOYING, S.FAILED, S.DELETING])  # RUNNING and UPDATING scale
def test_only_a_running_deployment_scales(status: S) -> None:
    with pytest.raises(IllegalTransition):
        scale(Schedule.new(0.0, 1, POLICY), status, 2, 10, POLICY)


def test_delete_then_gone() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    delete(s, S.RUNNING, 200)
    view = advance(s, 205, POLICY)
    assert (view.status, view.ready_capacity, view.gone) == (S.DELETING, 2, False)
    assert advance(s, 210, POLICY).gone
    delete(s, S.DELETING, 208)  # repeated delete: nothing moves
    assert s.deleting_at == 200


def test_forced_failure_then_delete() -> None:
    s = Schedule.new(0.0, 2, POLICY)
    force(s, S.DEPLOYING, S.FAILED, 40, POLICY)
    assert at(s, 1000) == (S.FAILED, 0)
    delete(s, S.FAILED, 1000)
    assert at(s, 1001) == (S.DELETING, 0)


def test_forced_steps_along_the_table() -> None:
    s = Schedule.new(0.0, 3, POLICY)
    force(s, S.PENDING, S.DEPLOYING, 5, POLICY)
    assert at(s, 5) == (S.DEPLOYING, 0)
    assert at(s, 25) == (S.DEPLOYING, 1)
    force(s, S.DEPLOYING, S.RUNNING, 26, POLICY)
    assert at(s, 26) == (S.RUNNING, 3)


@pytest.mark.parametrize(
    "current,target",
    [
        (S.PENDING, S.RUNNING),
        (S.RUNNING, S.DEPLOYING),
        (S.FAILED, S.RUNNING),
        (S.DELETING, S.FAILED),
        (S.DELETING, S.DELETING),
    ],
)
def test_illegal_forced_transitions(current: S, target: S) -> None:
    assert target not in TRANSITIONS[current]
    with pytest.raises(IllegalTransition):
        force(Schedule.new(0.0, 1, POLICY), current, target, 1, POLICY)


def test_an_immediate_policy() -> None:
    policy = Policy(pending_seconds=0, deploy_seconds=0, step_seconds=0, delete_seconds=0)
    s = Schedule.new(0.0, 8, policy)
    assert (advance(s, 0, policy).status, advance(s, 0, policy).ready_capacity) == (S.RUNNING, 8)
