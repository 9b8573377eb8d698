"""Injectable clocks. Components never read wall time to measure anything; they ask a Clock.

Live sessions use `MediaClock` (time = audio received, smoothed between frames); the
simulator uses `VirtualClock`, advanced by the driver as it feeds recorded audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> float: ...


class VirtualClock:
    """Time that moves only when told to: tests and `omnivox simulate`."""

    def __init__(self, start_ms: float = 0.0) -> None:
        self._now = start_ms

    def now_ms(self) -> float:
        return self._now

    def set(self, t_ms: float) -> None:
        if t_ms < self._now:
            raise ValueError("virtual time cannot go backwards")
        self._now = t_ms

    def advance(self, ms: float) -> None:
        self.set(self._now + ms)


class MediaClock:
    """The media clock of a live session: input audio received, in ms.

    Between frames it interpolates with a monotonic timer (capped at one frame plus
    jitter), so work done between two frames is timed finer than 20 ms while the clock
    stays locked to the audio the VAD timestamps refer to.
    """

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, max_gap_ms: float = 60.0
    ) -> None:
        self._monotonic = monotonic
        self._max_gap_ms = max_gap_ms
        self._media_ms = 0.0
        self._anchor = monotonic()
        self._last = 0.0

    def on_audio(self, end_ms: float) -> None:
        """Called for each received frame with the media time at its end."""
        self._media_ms = end_ms
        self._anchor = self._monotonic()

    def now_ms(self) -> float:
        gap = min((self._monotonic() - self._anchor) * 1000.0, self._max_gap_ms)
        # Never run backwards, even if a late frame anchors us slightly behind.
        self._last = max(self._last, self._media_ms + gap)
        return self._last
