"""The job state machine, pure: transitions, the one-slot queue, cancel at each state."""

from __future__ import annotations

import pytest

from emulator.fine_tunes.states import (
    TRANSITIONS,
    IllegalTransition,
    JobStatus,
    JobTimes,
    Policy,
    advance,
    cancel,
    fill_slot,
    force,
)

P = Policy(pending_seconds=5, cancel_seconds=10)
S = JobStatus


def job(job_id: str, created: float = 0.0, duration: float = 100.0, fails: bool = False) -> JobTimes:
    return JobTimes(job_id=job_id, status=S.PENDING, created_at=created, duration=duration, fails=fails)


def test_a_lone_job_runs_then_succeeds() -> None:
    a = job("a")
    assert advance([a], 4.9, P) == set() and a.status is S.PENDING
    assert advance([a], 5.0, P) == {"a"} and a.status is S.RUNNING and a.started_at == 5.0
    assert advance([a], 104.9, P) == set() and a.status is S.RUNNING
    advance([a], 105.0, P)
    assert a.status is S.SUCCEEDED and a.ended_at == 105.0


def test_a_failing_plan_ends_failed() -> None:
    a = job("a", fails=True, duration=3)
    advance([a], 1000, P)
    assert a.status is S.FAILED and a.ended_at == 8


def test_second_job_queues_and_starts_when_the_first_ends() -> None:
    a, b = job("a"), job("b", created=1)
    advance([a, b], 50, P)
    assert (a.status, b.status) == (S.RUNNING, S.QUEUING) and b.queued_at == 6
    advance([a, b], 105, P)
    assert (a.status, b.status) == (S.SUCCEEDED, S.RUNNING) and b.started_at == 105


def test_a_late_read_replays_the_whole_queue_exactly() -> None:
    jobs = [job(f"j{i}", created=i) for i in range(4)]
    advance(jobs, 10_000, P)
    assert [j.status for j in jobs] == [S.SUCCEEDED] * 4
    assert [j.started_at for j in jobs] == [5, 105, 205, 305]
    assert [j.ended_at for j in jobs] == [105, 205, 305, 405]


def test_reads_in_small_steps_agree_with_one_big_read() -> None:
    stepped = [job(f"j{i}", created=i * 30, duration=70 + i) for i in range(5)]
    for now in range(0, 1000, 7):
        advance(stepped, now, P)
    once = [job(f"j{i}", created=i * 30, duration=70 + i) for i in range(5)]
    advance(once, 994, P)
    assert [(j.status, j.started_at, j.ended_at) for j in stepped] == [
        (j.status, j.started_at, j.ended_at) for j in once
    ]


def test_first_come_first_served() -> None:
    a, b, c = job("a"), job("b", created=2), job("c", created=1)
    jobs = [a, c, b]  # creation order
    advance(jobs, 106, P)
    assert c.status is S.RUNNING and b.status is S.QUEUING


@pytest.mark.parametrize("status", [S.PENDING, S.QUEUING])
def test_cancel_waiting_job_is_immediate(status: JobStatus) -> None:
    a = job("a")
    a.status = status
    cancel(a, 3)
    assert a.status is S.CANCELED and a.ended_at == 3


def test_cancel_running_job_passes_through_canceling_and_frees_the_slot() -> None:
    a, b = job("a"), job("b", created=1)
    advance([a, b], 20, P)
    cancel(a, 20)
    assert a.status is S.CANCELING
    advance([a, b], 29, P)
    assert a.status is S.CANCELING and b.status is S.QUEUING
    advance([a, b], 30, P)
    assert a.status is S.CANCELED and a.ended_at == 30 and b.status is S.RUNNING and b.started_at == 30


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.CANCELED, S.CANCELING])
def test_cancel_is_refused_when_finished(status: JobStatus) -> None:
    a = job("a")
    a.status = status
    with pytest.raises(IllegalTransition):
        cancel(a, 1)


def test_force_follows_the_table_only() -> None:
    a = job("a")
    force(a, S.FAILED, 2)
    assert a.status is S.FAILED and a.ended_at == 2
    with pytest.raises(IllegalTransition):
        force(a, S.RUNNING, 3)
    for current, targets in TRANSITIONS.items():
        for target in JobStatus:
            j = job("x")
            j.status = current
            if target in targets:
                force(j, target, 1)
                assert j.status is target
            else:
                with pytest.raises(IllegalTransition):
                    force(j, target, 1)


def test_fill_slot_after_a_forced_failure() -> None:
    a, b = job("a"), job("b", created=1)
    advance([a, b], 50, P)
    force(a, S.FAILED, 50)
    assert fill_slot([a, b], 50, P) == {"b"}
    assert b.status is S.RUNNING and b.started_at == 50


def test_never_two_holding_the_slot() -> None:
    jobs = [job(f"j{i}", created=(i * 13) % 40, duration=20 + (i * 7) % 30) for i in range(12)]
    jobs.sort(key=lambda j: j.created_at)
    for now in range(0, 800, 3):
        advance(jobs, now, P)
        assert sum(j.status in (S.RUNNING, S.CANCELING) for j in jobs) <= 1
        if now == 90:
            cancel(next(j for j in jobs if j.status is S.RUNNING), now)
    assert all(j.status in (S.SUCCEEDED, S.CANCELED) for j in jobs)
