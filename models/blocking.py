"""The one bounded executor for blocking model and library calls.

Model inference (onnxruntime, pocketsphinx, eSpeak NG) blocks; it runs here so the event
loop keeps serving media. The pool is bounded so many sessions queue instead of
oversubscribing the CPU, and the queue is ordered by what a waiting user feels: a
classifier query over the agent (whether to stop talking) goes first, then the work
an answer waits on (the final transcript, a query at a pause), then speech synthesis,
then streaming partials and camera frames. Under load the background work waits and
arrives in larger batches; the answers do not.

Within a priority, jobs run earliest deadline first. A job is due when it is submitted,
unless the code that submits it says how much of its output is already made and still
unused (`SPEECH_AHEAD`: a reply's audio made but not yet played): then it is due that
much later, less a guard. Eight replies synthesised at once, first come first served,
made the last caller's first words wait for the other callers' third sentences.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

SPEECH_AHEAD: contextvars.ContextVar[Callable[[], float] | None] = contextvars.ContextVar(
    "speech_ahead", default=None
)
"""Set by whatever drives a synthesis: seconds of its audio made and not yet played, asked
when each job of it is submitted (a job is due that much later, less `SPEECH_GUARD_S`)."""
SPEECH_GUARD_S = 1.0
"""A synthesis job is due this long before the audio ahead of it runs out: time for it,
and for the jobs due before it, to run on a loaded machine. Jobs that near running dry
queue first come first served with the first words of other replies (measured at 8
callers on 2 cores: due only when the audio ran out, replies paused mid-sentence)."""


class Priority(IntEnum):
    DECISION = 0
    """Whether to stop talking over someone waits on it, and it takes milliseconds (a
    classifier query over the agent): not behind other sessions' transcripts."""
    URGENT = 1
    """A turn's answer waits on it (the final transcript, the snapshot it goes with)."""
    SPEECH = 2
    """Keeps speech flowing (synthesis ahead of playout)."""
    BACKGROUND = 3
    """Streaming partials, camera frames: late is fine, and they batch up."""


class PriorityExecutor(Executor):
    """A fixed pool of threads taking jobs most urgent first, earliest due first within a
    priority (then first come first served). `submit` (what `loop.run_in_executor` calls)
    is SPEECH, due now."""

    def __init__(
        self,
        max_workers: int,
        thread_name_prefix: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._queue: list[tuple[int, float, int, Future[Any], Callable[[], Any]]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._shutdown = False
        self._running = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}_{i}", daemon=True)
            for i in range(max_workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self.submit_at(Priority.SPEECH, fn, *args, **kwargs)

    def submit_at(
        self, priority: Priority, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        return self.submit_due(priority, 0.0, fn, *args, **kwargs)

    def submit_due(
        self, priority: Priority, later_s: float, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        """Submit a job due `later_s` seconds from now (0: now)."""
        future: Future[T] = Future()
        due = self._monotonic() + max(0.0, later_s)
        with self._ready:
            if self._shutdown:
                raise RuntimeError("executor is shut down")
            job = (int(priority), due, next(self._order), future, lambda: fn(*args, **kwargs))
            heapq.heappush(self._queue, job)
            self._ready.notify()
        return future

    @property
    def queued(self) -> int:
        """Jobs waiting for a thread."""
        with self._ready:
            return len(self._queue)

    @property
    def busy(self) -> bool:
        """Jobs running or waiting (the simulator keeps to real time while there are:
        model time must land on the media clock)."""
        with self._ready:
            return bool(self._queue) or self._running > 0

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._ready:
            self._shutdown = True
            if cancel_futures:
                for *_, future, _ in self._queue:
                    future.cancel()
                self._queue.clear()
            self._ready.notify_all()
        if wait:
            for t in self._threads:
                t.join()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._shutdown:
                    self._ready.wait()
                if not self._queue:
                    return
                *_, future, call = heapq.heappop(self._queue)
                self._running += 1
            try:
                if future.set_running_or_notify_cancel():  # else nobody wants the answer
                    try:
                        result = call()
                    except BaseException as err:
                        future.set_exception(err)
                    else:
                        future.set_result(result)
            finally:
                with self._ready:
                    self._running -= 1


MAX_WORKERS = int(os.environ.get("OMNIVOX_BLOCKING_WORKERS", "0")) or max(2, os.cpu_count() or 2)

BLOCKING_EXECUTOR = PriorityExecutor(MAX_WORKERS, thread_name_prefix="omnivox-blocking")


async def run_blocking(
    fn: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run a blocking call on the shared executor (at SPEECH priority) and await it."""
    return await run_blocking_at(Priority.SPEECH, fn, *args, **kwargs)


async def run_blocking_at(
    priority: Priority, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a blocking call on the shared executor at `priority` and await it, due as
    `SPEECH_AHEAD` says (now if unset). Cancelled before a thread took it, it never runs."""
    ahead = SPEECH_AHEAD.get()
    later_s = ahead() - SPEECH_GUARD_S if ahead is not None else 0.0
    return await asyncio.wrap_future(
        BLOCKING_EXECUTOR.submit_due(priority, later_s, fn, *args, **kwargs)
    )
