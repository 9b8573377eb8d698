"""Levels in dBFS: known signals, and the vectorised path against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from omnivox.kernels.level import (
    SILENCE_DBFS,
    frame_dbfs,
    frame_levels,
    frame_levels_reference,
    peak_dbfs,
    peak_dbfs_reference,
    rms_dbfs,
    rms_dbfs_reference,
)

pcm16 = arrays(np.int16, st.integers(1, 2000))


def _sine(amplitude: float, n: int = 16000) -> np.ndarray:
    return np.round(amplitude * np.sin(2 * np.pi * 1000 * np.arange(n) / 16000)).astype(np.int16)


def test_full_scale_square_is_zero_dbfs() -> None:
    square = np.tile(np.array([-32768, 32767], dtype=np.int16), 160)
    assert rms_dbfs(square) == pytest.approx(0.0, abs=2e-4)
    assert peak_dbfs(square) == 0.0


def test_sine_levels() -> None:
    assert rms_dbfs(_sine(32767)) == pytest.approx(-3.0103, abs=1e-3)
    assert peak_dbfs(_sine(32767)) == pytest.approx(20 * math.log10(32767 / 32768))
    half = _sine(16384)
    assert rms_dbfs(half) == pytest.approx(-3.0103 - 6.0206, abs=1e-3)
    assert peak_dbfs(half) == pytest.approx(-6.0206, abs=1e-3)


def test_silence_and_near_silence_read_the_floor() -> None:
    assert rms_dbfs(np.zeros(320, dtype=np.int16)) == SILENCE_DBFS
    assert peak_dbfs(np.zeros(320, dtype=np.int16)) == SILENCE_DBFS
    one_lsb_click = np.zeros(320, dtype=np.int16)
    one_lsb_click[0] = 1
    assert rms_dbfs(one_lsb_click) == SILENCE_DBFS  # -115 dBFS, below the floor
    assert peak_dbfs(one_lsb_click) == pytest.approx(-90.309, abs=1e-3)


def test_peak_counts_the_most_negative_sample() -> None:
    pcm = np.array([0, 10, -32768, 5], dtype=np.int16)
    assert peak_dbfs(pcm) == 0.0
    assert peak_dbfs_reference(pcm) == 0.0


@given(pcm16)
def test_rms_matches_reference(pcm: np.ndarray) -> None:
    assert rms_dbfs(pcm) == pytest.approx(rms_dbfs_reference(pcm), abs=1e-9)


@given(pcm16)
def test_peak_matches_reference(pcm: np.ndarray) -> None:
    assert peak_dbfs(pcm) == pytest.approx(peak_dbfs_reference(pcm), abs=1e-9)


@given(arrays(np.int16, st.integers(0, 3000)), st.integers(1, 700))
def test_frame_levels_match_reference(pcm: np.ndarray, frame: int) -> None:
    fast = frame_levels(pcm, frame)
    ref = frame_levels_reference(pcm, frame)
    assert fast.shape == ref.shape == (len(pcm) // frame,)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)


def test_frame_levels_are_per_frame_rms_and_drop_the_partial_tail() -> None:
    pcm = np.concatenate(
        [_sine(1000, 320), np.zeros(320, np.int16), _sine(30000, 320), _sine(30000, 100)]
    )
    levels = frame_levels(pcm, 320)
    assert levels.tolist() == [rms_dbfs(pcm[:320]), SILENCE_DBFS, rms_dbfs(pcm[640:960])]


def test_bad_input_is_rejected_with_a_message() -> None:
    with pytest.raises(ValueError, match="empty"):
        rms_dbfs(np.zeros(0, dtype=np.int16))
    with pytest.raises(ValueError, match="empty"):
        peak_dbfs(np.zeros(0, dtype=np.int16))
    with pytest.raises(TypeError, match="int16"):
        rms_dbfs(np.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError, match="1-D"):
        frame_levels(np.zeros((2, 320), dtype=np.int16), 320)
    for frame in (0, -320, 2.5, True):
        with pytest.raises(ValueError, match="frame"):
            frame_levels(np.zeros(640, dtype=np.int16), frame)


def test_an_empty_frame_reads_as_silence_and_a_full_one_as_its_rms() -> None:
    assert frame_dbfs(np.zeros(0, np.int16)) == SILENCE_DBFS
    assert frame_dbfs(_sine(32767)) == rms_dbfs(_sine(32767))
