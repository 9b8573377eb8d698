"""The phone edge's streaming resampler: every chunk's worth at once, little delay."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from omnivox.media.resampler import PcmResampler


def test_each_20_ms_chunk_comes_back_at_once_at_the_new_rate() -> None:
    up = PcmResampler(8000, 16000)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(1600) / 8000)).astype(np.int16)
    sizes = [len(up.process(tone[i : i + 160])) for i in range(0, 1600, 160)]
    assert all(300 <= n <= 340 for n in sizes[1:])  # no 100 ms bursts, as soxr's stream gives
    assert abs(sum(sizes) - 3200) <= 64
    up.reset()
    assert len(up.process(tone[:160])) <= 320


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([(8000, 16000), (16000, 8000), (16000, 16000), (8000, 48000), (44100, 16000)]),
    st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=8),
)
def test_fuzz_chunks_of_any_size_come_back_as_int16_at_the_new_rate(
    rates: tuple[int, int], sizes: list[int]
) -> None:
    src, dst = rates
    resampler = PcmResampler(src, dst)
    rng = np.random.default_rng(sum(sizes))
    total = 0
    for n in sizes:
        out = resampler.process(rng.integers(-32768, 32767, n, dtype=np.int16))
        assert out.dtype == np.int16 and out.ndim == 1
        total += len(out)
    assert total <= sum(sizes) * dst / src + 64  # never more than the input's worth
