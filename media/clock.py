"""Injectable clocks. Components never read wall time to measure anything; they ask a Clock.

Live sessions use `MediaClock` (time = audio received, smoothed between frames); the
simulator uses `VirtualClock`, advanced by the driver as it feeds recorded audio.
Deadlines are alarms on the same clock (`Clock.alarm`), so a timeout means the same
thing in a call, in a simulation faster than real time, and in a unit test.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now_ms(self) -> float: ...

    def alarm(self, t_ms: float) -> asyncio.Future[None]:
        """A future that completes once the clock reaches `t_ms` (cancel it to drop it)."""
        ...


class _Alarms:
    """Futures waiting for a time, in time order; `ring` completes those that are due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties: first set, first rung; futures don't compare

    def add(self, t_ms: float, now_ms: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if t_ms <= now_ms:
            future.set_result(None)
        else:
            heapq.heappush(self._heap, (t_ms, next(self._order), future))
        return future

    def ring(self, now_ms: float) -> None:
        while self._heap and self._heap[0][0] <= now_ms:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)


class VirtualClock:
    """Time that moves only when told to: tests and `omnivox simulate`."""

    def __init__(self, start_ms: float = 0.0) -> None:
        self._now = start_ms
        self._alarms = _Alarms()

    def now_ms(self) -> float:
        return self._now

    def alarm(self, t_ms: float) -> asyncio.Future[None]:
        return self._alarms.add(t_ms, self._now)

    def set(self, t_ms: float) -> None:
        if t_ms < self._now:
            raise ValueError("virtual time cannot go backwards")
        self._now = t_ms
        self._alarms.ring(t_ms)

    def advance(self, ms: float) -> None:
        self.set(self._now + ms)


class MediaClock:
    """The media clock of a live session: input audio received, in ms.

    Between frames it interpolates with a monotonic timer (capped at one frame plus
    jitter), so work done between two frames is timed finer than 20 ms while the clock
    stays locked to the audio the VAD timestamps refer to. Alarms ring as frames arrive:
    a deadline is at most one frame late, and when the far end stops sending, time (and
    every deadline) stops with it until the transport closes the session.
    """

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, max_gap_ms: float = 60.0
    ) -> None:
        self._monotonic = monotonic
        self._max_gap_ms = max_gap_ms
        self._media_ms = 0.0
        self._anchor = monotonic()
        self._last = 0.0
        self._alarms = _Alarms()

    def on_audio(self, end_ms: float) -> None:
        """Called for each received frame with the media time at its end."""
        self._media_ms = end_ms
        self._anchor = self._monotonic()
        self._alarms.ring(self.now_ms())

    def now_ms(self) -> float:
        gap = min((self._monotonic() - self._anchor) * 1000.0, self._max_gap_ms)
        # Never run backwards, even if a late frame anchors us slightly behind.
        self._last = max(self._last, self._media_ms + gap)
        return self._last

    def alarm(self, t_ms: float) -> asyncio.Future[None]:
        return self._alarms.add(t_ms, self.now_ms())


async def first_or_timeout(clock: Clock, awaitable: asyncio.Future[T], timeout_ms: float) -> T:
    """`awaitable`'s result, or TimeoutError once `timeout_ms` pass on `clock` (the
    awaitable is then cancelled)."""
    alarm = clock.alarm(clock.now_ms() + timeout_ms)
    try:
        waiters: set[asyncio.Future[Any]] = {awaitable, alarm}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # Cancelled from outside (a reply cut while its Thinker has not answered): the
        # awaitable goes too, and has finished when the caller unwinds (an async
        # generator it is still running could not be closed: "already running").
        awaitable.cancel()
        await asyncio.wait({awaitable})
        raise
    finally:
        alarm.cancel()
    if not awaitable.done():
        awaitable.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await awaitable
        raise TimeoutError
    return awaitable.result()
