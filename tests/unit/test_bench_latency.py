"""bench latency's pause measure, on agent audio built by hand."""

from __future__ import annotations

import numpy as np

from omnivox.lab.bench.latency import longest_pause_ms
from omnivox.media.frames import FRAME_SAMPLES


def frames(pattern: str) -> np.ndarray:
    """'x' a sounding 20 ms frame, '.' a silent one."""
    return np.concatenate([np.full(FRAME_SAMPLES, int(c == "x"), np.int16) for c in pattern])


def test_the_longest_silent_run_between_sounds() -> None:
    agent = frames("..xx...x.....xx..")
    assert longest_pause_ms(agent, 0, 340) == 100.0
    assert longest_pause_ms(agent, 0, 160) == 60.0  # the window ends before the last sound
    assert longest_pause_ms(agent, 0, 60) is None  # one sound: no pause between two
    assert longest_pause_ms(agent, 40, 80) == 0.0  # adjacent sounding frames
