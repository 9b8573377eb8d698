"""Mixing: saturating fast paths equal to per-sample references, and their properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from omnivox.kernels.mixing import (
    apply_gain,
    apply_gain_reference,
    fade,
    fade_reference,
    mix,
    mix_reference,
)

pcm16 = arrays(np.int16, st.integers(0, 700))
linear_gain = st.floats(0.0, 8.0, allow_nan=False)


@given(pcm16, pcm16)
def test_mix_matches_reference(a: np.ndarray, b: np.ndarray) -> None:
    out = mix(a, b)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, mix_reference(a, b))
    np.testing.assert_array_equal(out, mix(b, a))


@given(pcm16, st.floats(-80.0, 40.0, allow_nan=False))
def test_apply_gain_matches_reference(pcm: np.ndarray, gain_db: float) -> None:
    np.testing.assert_array_equal(apply_gain(pcm, gain_db), apply_gain_reference(pcm, gain_db))


@given(pcm16, linear_gain, linear_gain)
def test_fade_matches_reference(pcm: np.ndarray, start: float, end: float) -> None:
    np.testing.assert_array_equal(fade(pcm, start, end), fade_reference(pcm, start, end))


def test_mix_saturates_instead_of_wrapping() -> None:
    a = np.array([32767, -32768, 30000, -30000, 100], dtype=np.int16)
    b = np.array([1, -1, 30000, -30000, -50], dtype=np.int16)
    assert mix(a, b).tolist() == [32767, -32768, 32767, -32768, 50]


def test_mix_pads_the_shorter_signal() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.int16)
    b = np.array([10], dtype=np.int16)
    assert mix(a, b).tolist() == [11, 2, 3, 4]
    assert mix(b, a).tolist() == [11, 2, 3, 4]
    assert mix(a[:0], b[:0]).shape == (0,)


def test_gain_values() -> None:
    pcm = np.array([1000, -1000, 20000, -20000, 3], dtype=np.int16)
    np.testing.assert_array_equal(apply_gain(pcm, 0.0), pcm)
    doubled = 20 * math.log10(2)
    assert apply_gain(pcm, doubled).tolist() == [2000, -2000, 32767, -32768, 6]
    assert apply_gain(pcm, -doubled).tolist() == [500, -500, 10000, -10000, 2]  # 1.5 -> 2
    assert apply_gain(pcm, -math.inf).tolist() == [0, 0, 0, 0, 0]


def test_fade_out_ends_silent_and_chained_fades_have_no_step() -> None:
    pcm = np.full(320, 10000, dtype=np.int16)
    out = fade(pcm, 1.0, 0.0)
    assert out[-1] == 0
    assert np.all(np.diff(out.astype(np.int32)) < 0)
    # Three frames faded 1 -> 2/3 -> 1/3 -> 0 equal one fade over the whole 60 ms.
    chained = np.concatenate(
        [fade(pcm, 1.0, 2 / 3), fade(pcm, 2 / 3, 1 / 3), fade(pcm, 1 / 3, 0.0)]
    )
    whole = fade(np.full(960, 10000, dtype=np.int16), 1.0, 0.0)
    assert np.max(np.abs(chained.astype(np.int32) - whole)) <= 1
    np.testing.assert_array_equal(fade(pcm, 1.0, 1.0), pcm)
    assert fade(np.full(4, 30000, dtype=np.int16), 2.0, 2.0).tolist() == [32767] * 4
    assert fade(pcm[:0], 1.0, 0.0).shape == (0,)


def test_bad_input_is_rejected_with_a_message() -> None:
    pcm = np.zeros(10, dtype=np.int16)
    with pytest.raises(TypeError, match="int16"):
        mix(pcm, pcm.astype(np.int32))
    with pytest.raises(ValueError, match="1-D"):
        mix(pcm.reshape(2, 5), pcm)
    with pytest.raises(ValueError, match="not dB"):
        fade(pcm, 1.0, -6.0)
    with pytest.raises(ValueError, match="finite"):
        fade(pcm, math.nan, 0.0)
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="gain_db"):
            apply_gain(pcm, bad)
