"""The user's audio since the current turn's (or overlap's) onset: what the turn
classifier scores, and what a Thinker that takes audio hears."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

from omnivox.media.frames import FRAME_MS, FRAME_SAMPLES

MAX_TURN_AUDIO_S = 60
"""The most of one turn kept (its end): a bound on memory when a turn never ends (a
noisy room)."""


class TurnAudio:
    def __init__(self, max_s: int = MAX_TURN_AUDIO_S) -> None:
        self._frames: deque[np.ndarray] = deque(maxlen=max_s * 1000 // FRAME_MS)

    def restart(self, primed: list[np.ndarray]) -> None:
        """A new turn or overlap, beginning with the audio the recognizer was primed with."""
        self._frames.clear()
        self._frames.extend(primed)

    def append(self, pcm: np.ndarray) -> None:
        self._frames.append(pcm)

    def recent(self, ms: int) -> np.ndarray:
        """The last `ms` of it (one frame of silence when there is none yet)."""
        n = len(self._frames)
        recent = list(itertools.islice(self._frames, max(0, n - ms // FRAME_MS), None))
        return np.concatenate(recent) if recent else np.zeros(FRAME_SAMPLES, np.int16)

    def whole(self) -> np.ndarray | None:
        return np.concatenate(self._frames) if self._frames else None
