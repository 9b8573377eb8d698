"""Pacing outgoing media: when each frame of a real-time stream is due.

Every transport that pulls the agent's audio (WebRTC's outgoing track, a phone media
stream) asks for the next frame only when it is due, so nothing waits in a transport
buffer and a cancel is heard at the next frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class FrameSchedule:
    """Due times of consecutive fixed-length frames on a monotonic clock.

    Drift-free: frame n is due at start + n * frame_s, not a frame after the last wake-up,
    so sleeping late once does not push every later frame back. After a stall longer than
    `max_lag_s` (a blocked event loop) it resynchronises instead of bursting to catch up.
    """

    def __init__(
        self,
        frame_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        max_lag_s: float = 0.2,
    ) -> None:
        self.frame_s = frame_s
        self._monotonic = monotonic
        self._max_lag_s = max_lag_s
        self._start: float | None = None
        self.index = -1
        """The frame last waited for (the first is 0)."""

    async def wait(self) -> int:
        """Sleep until the next frame is due (the first is due at once); its index."""
        now = self._monotonic()
        self.index += 1
        if self._start is None:
            self._start = now
            return self.index
        due = self._start + self.index * self.frame_s
        if now - due > self._max_lag_s:
            self._start = now - self.index * self.frame_s
        # Late or not, yield: a loop behind schedule must not starve the others.
        await asyncio.sleep(max(0.0, due - now))
        return self.index
