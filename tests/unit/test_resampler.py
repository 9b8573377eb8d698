"""The phone edge's streaming resampler: every chunk's worth at once, little delay."""

from __future__ import annotations

import numpy as np

from omnivox.media.resampler import PcmResampler


def test_each_20_ms_chunk_comes_back_at_once_at_the_new_rate() -> None:
    up = PcmResampler(8000, 16000)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(1600) / 8000)).astype(np.int16)
    sizes = [len(up.process(tone[i : i + 160])) for i in range(0, 1600, 160)]
    assert all(300 <= n <= 340 for n in sizes[1:])  # no 100 ms bursts, as soxr's stream gives
    assert abs(sum(sizes) - 3200) <= 64
    up.reset()
    assert len(up.process(tone[:160])) <= 320
