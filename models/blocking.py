"""The one bounded executor for blocking model and library calls.

Model inference (onnxruntime, pocketsphinx, eSpeak NG) blocks; it runs here so the event
loop keeps serving media. The pool is bounded so many sessions queue instead of
oversubscribing the CPU, and the queue is ordered by what a waiting user feels: the
work a turn decision waits on (the final transcript, a classifier query) goes before
speech synthesis, which goes before streaming partials and camera frames. Under load
the background work waits and arrives in larger batches; the answers do not.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Priority(IntEnum):
    URGENT = 0
    """A turn decision or the start of a reply waits on it."""
    SPEECH = 1
    """Keeps speech flowing (synthesis ahead of playout)."""
    BACKGROUND = 2
    """Streaming partials, camera frames: late is fine, and they batch up."""


class PriorityExecutor(Executor):
    """A fixed pool of threads taking jobs most urgent first, first come first served
    within a priority. `submit` (what `loop.run_in_executor` calls) is SPEECH."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self._queue: list[tuple[int, int, Future[Any], Callable[[], Any]]] = []
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
        future: Future[T] = Future()
        with self._ready:
            if self._shutdown:
                raise RuntimeError("executor is shut down")
            job = (int(priority), next(self._order), future, lambda: fn(*args, **kwargs))
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
                for _, _, future, _ in self._queue:
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
                _, _, future, call = heapq.heappop(self._queue)
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
    """Run a blocking call on the shared executor at `priority` and await it. Cancelled
    before a thread took it, it never runs."""
    return await asyncio.wrap_future(BLOCKING_EXECUTOR.submit_at(priority, fn, *args, **kwargs))
