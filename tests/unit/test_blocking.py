"""The shared executor: bounded, most urgent first, and dropped work never runs."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from omnivox.models import blocking
from omnivox.models.blocking import (
    BLOCKING_EXECUTOR,
    SPEECH_AHEAD,
    SPEECH_GUARD_S,
    Priority,
    PriorityExecutor,
    run_blocking,
    run_blocking_at,
)


def occupy(pool: PriorityExecutor) -> tuple[threading.Event, Future[bool]]:
    """Hold the pool's only thread until the returned gate is set."""
    gate, started = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait()

    blocker = pool.submit(hold)
    started.wait(5)
    return gate, blocker


def test_queued_jobs_run_most_urgent_first_then_in_order() -> None:
    pool = PriorityExecutor(1, "test")
    gate, blocker = occupy(pool)
    ran: list[str] = []
    jobs = [
        pool.submit_at(Priority.BACKGROUND, ran.append, "partial 1"),
        pool.submit_at(Priority.BACKGROUND, ran.append, "partial 2"),
        pool.submit(ran.append, "speech"),
        pool.submit_at(Priority.URGENT, ran.append, "final"),
        pool.submit_at(Priority.DECISION, ran.append, "classifier query"),
    ]
    assert pool.queued == 5
    gate.set()
    for job in [blocker, *jobs]:
        job.result(5)
    assert ran == ["classifier query", "final", "speech", "partial 1", "partial 2"]
    pool.shutdown()


def test_within_a_priority_the_job_due_first_runs_first() -> None:
    now = [100.0]
    pool = PriorityExecutor(1, "test", monotonic=lambda: now[0])
    gate, blocker = occupy(pool)
    ran: list[str] = []
    jobs = [
        pool.submit_due(Priority.SPEECH, 2.0, ran.append, "caller A, third sentence"),
        pool.submit_due(Priority.BACKGROUND, 0.0, ran.append, "partial"),
    ]
    now[0] += 0.5
    jobs += [
        pool.submit(ran.append, "caller B, first words"),
        pool.submit_due(Priority.URGENT, 5.0, ran.append, "final"),  # urgent whatever is due
        pool.submit_due(Priority.SPEECH, 1.0, ran.append, "caller C, second sentence"),
    ]
    gate.set()
    for job in [blocker, *jobs]:
        job.result(5)
    assert ran == [
        "final",
        "caller B, first words",
        "caller C, second sentence",
        "caller A, third sentence",
        "partial",
    ]
    pool.shutdown()


async def test_run_blocking_is_due_as_speech_ahead_says(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []

    class Recording(PriorityExecutor):
        def submit_due(self, priority, later_s, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(later_s)
            return super().submit_due(priority, later_s, fn, *args, **kwargs)

    pool = Recording(1, "test")
    monkeypatch.setattr(blocking, "BLOCKING_EXECUTOR", pool)
    assert await run_blocking(sum, [1, 2]) == 3

    async def synthesis() -> int:
        SPEECH_AHEAD.set(lambda: 1.5)
        return await run_blocking(sum, [3, 4])

    assert await asyncio.create_task(synthesis()) == 7
    assert asked == [0.0, 1.5 - SPEECH_GUARD_S]
    pool.shutdown()


def test_a_job_cancelled_while_queued_never_runs_and_errors_reach_the_caller() -> None:
    pool = PriorityExecutor(1, "test")
    gate, blocker = occupy(pool)
    ran: list[str] = []
    dropped = pool.submit_at(Priority.BACKGROUND, ran.append, "late")
    assert dropped.cancel()
    failing = pool.submit(int, "not a number")
    gate.set()
    blocker.result(5)
    with pytest.raises(ValueError):
        failing.result(5)
    assert ran == [] and dropped.cancelled()
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(print)


async def test_awaiting_from_the_event_loop() -> None:
    assert await run_blocking(sum, [1, 2, 3]) == 6
    assert await run_blocking_at(Priority.URGENT, max, 4, 9) == 9
    loop = asyncio.get_running_loop()

    assert (
        await loop.run_in_executor(BLOCKING_EXECUTOR, min, 4, 9) == 4
    )  # as aiortc-style callers do
