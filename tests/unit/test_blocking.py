"""The shared executor: bounded, most urgent first, and dropped work never runs."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from omnivox.models.blocking import (
    BLOCKING_EXECUTOR,
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
    ]
    assert pool.queued == 4
    gate.set()
    for job in [blocker, *jobs]:
        job.result(5)
    assert ran == ["final", "speech", "partial 1", "partial 2"]
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
