"""The PCM checks, conversions and frame grid every kernel (and model) shares."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.kernels._pcm import (
    PcmError,
    as_unit_float32,
    as_unit_float64,
    n_frames,
    require_pcm,
)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ([0, 1], "frame must be a numpy array of int16, got list"),
        (np.zeros(4, np.float64), "frame must have dtype int16, got float64"),
        (np.zeros((2, 4), np.int16), r"frame must be 1-D \(mono\) int16, got shape \(2, 4\)"),
    ],
)
def test_a_refusal_names_the_problem_and_is_both_type_and_value_error(
    bad: object, problem: str
) -> None:
    for kind in (PcmError, TypeError, ValueError):
        with pytest.raises(kind, match=problem):
            require_pcm(bad, "frame", np.int16)


def test_unit_scale_conversions() -> None:
    pcm = np.array([-32768, 0, 16384, 32767], np.int16)
    expected = [-1.0, 0.0, 0.5, 32767 / 32768]
    as64 = as_unit_float64(pcm)
    assert as64.dtype == np.float64 and as64.tolist() == expected
    as32 = as_unit_float32(pcm)
    assert as32.dtype == np.float32 and as32.tolist() == np.float32(expected).tolist()
    floats = np.array([0.25, -0.5], np.float32)
    assert as_unit_float32(floats) is floats  # already on the unit scale
    assert as_unit_float64(floats).tolist() == [0.25, -0.5]
    with pytest.raises(TypeError, match="int16 or float32"):
        as_unit_float64(np.zeros(3, np.int32))


def test_frame_grid_is_causal_and_unpadded() -> None:
    assert [n_frames(n, win=400, hop=160) for n in (0, 399, 400, 559, 560)] == [0, 0, 1, 1, 2]
    with pytest.raises(ValueError, match="hop"):
        n_frames(1000, win=400, hop=0)
