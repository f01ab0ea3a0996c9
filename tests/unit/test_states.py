"""The job state machine, pure: transitions, the one-slot queue, cancel at each state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.fine_tunes.states import (
    ACTIVE,
    HOLDS_SLOT,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    JobStatus,
    JobTimes,
    Policy,
    cancel,
    force,
    settle,
)
from tests.fine_tunes.replay import advance, fill_slot

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


# ---------------------------------------------------------------- the incremental engine against the replay


class _Source:
    """``QueueSource`` over a plain list: what the store's indexed reads answer."""

    def __init__(self, jobs: list[JobTimes], policy: Policy) -> None:
        self.jobs, self.policy = jobs, policy
        self.reads = 0

    async def holder(self) -> JobTimes | None:
        self.reads += 1
        return next((j for j in self.jobs if j.status in HOLDS_SLOT), None)

    async def queued_after(self, seq: int, limit: int) -> list[JobTimes]:
        self.reads += 1
        return [j for j in self.jobs if j.status is S.QUEUING and j.seq > seq][:limit]

    async def pending_due(self, now: float) -> list[JobTimes]:
        self.reads += 1
        return [j for j in self.jobs if j.status is S.PENDING and j.ready_at(self.policy.pending_seconds) <= now]


def _snapshot(jobs: list[JobTimes]) -> list[tuple[object, ...]]:
    return [(j.job_id, j.status, j.queued_at, j.started_at, j.cancel_at, j.ended_at) for j in jobs]


_op = st.one_of(
    st.tuples(st.just("create"), st.floats(0, 300, allow_nan=False), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
    st.tuples(st.just("force"), st.integers(0, 40), st.sampled_from(sorted(JobStatus))),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 3.0, 5.0, 10.0, 60.0, 150.0, 1000.0])),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(_op, max_size=40), pending=st.sampled_from([0.0, 5.0, 30.0]))
def test_settle_agrees_with_the_replay(ops: list[tuple[Any, ...]], pending: float) -> None:
    """Any reachable queue: ``settle`` (incremental) leaves every job exactly as ``advance`` (full replay) does."""
    policy = Policy(pending_seconds=pending, cancel_seconds=10)
    ref: list[JobTimes] = []
    inc: list[JobTimes] = []
    now = 0.0
    for op in ops:
        if op[0] == "advance":
            now += op[1]
        advance([j for j in ref if j.status in ACTIVE], now, policy)
        moved = asyncio.run(settle(_Source(inc, policy), now, policy))
        assert _snapshot(inc) == _snapshot(ref)
        assert {j.job_id for j in moved} <= {j.job_id for j in inc}
        if op[0] == "create":
            for jobs in (ref, inc):
                jobs.append(JobTimes(f"j{len(jobs)}", S.PENDING, now, op[1], op[2], seq=len(jobs)))
        elif op[0] in ("cancel", "force") and op[1] < len(ref):
            for jobs in (ref, inc):
                _act(jobs, op, now, policy)
    now += 100_000
    advance([j for j in ref if j.status in ACTIVE], now, policy)
    asyncio.run(settle(_Source(inc, policy), now, policy))
    assert _snapshot(inc) == _snapshot(ref)


def _act(jobs: list[JobTimes], op: tuple[Any, ...], now: float, policy: Policy) -> None:
    target = jobs[op[1]]
    if target.status in TERMINAL:
        return
    try:
        if op[0] == "cancel":
            if target.status is not S.CANCELING:
                cancel(target, now)
        elif op[2] is not S.RUNNING or not any(j.status in HOLDS_SLOT for j in jobs if j is not target):
            force(target, op[2], now)
    except IllegalTransition:
        return
    fill_slot([j for j in jobs if j.status in ACTIVE], now, policy)


def test_settle_reads_the_head_of_the_queue_not_the_queue() -> None:
    """10,000 queued behind a running job: finishing it reads the holder, one page of the queue, no pending."""
    jobs = [JobTimes(f"j{i}", S.QUEUING, 0.0, 100.0, False, queued_at=5.0, seq=i) for i in range(10_000)]
    jobs[0].status, jobs[0].started_at = S.RUNNING, 5.0
    source = _Source(jobs, P)
    moved = asyncio.run(settle(source, 105.0, P))
    assert {j.job_id for j in moved} == {"j0", "j1"} and jobs[1].status is S.RUNNING and jobs[1].started_at == 105
    assert source.reads == 3
