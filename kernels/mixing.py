"""Sample-level mixing for int16 PCM: saturating sum, gain, and linear fades.

Every operation saturates (clips to the int16 range) instead of wrapping, because a
wrapped overflow is a full-scale click. Fades exist so that ducking or cutting the
agent's voice on barge-in ramps over a frame instead of stepping, which would click.
"""

from __future__ import annotations

import math

import numpy as np

from omnivox.kernels._pcm import (
    INT16_MAX,
    INT16_MIN,
    clip_int16_in_place,
    require_pcm,
    saturate_int16,
)


def _db_to_gain(gain_db: float) -> float:
    if math.isnan(gain_db) or gain_db == math.inf:
        raise ValueError(f"gain_db must be a finite number of dB (or -inf to mute), got {gain_db}")
    return 10.0 ** (gain_db / 20.0)


def _check_linear_gain(name: str, gain: float) -> None:
    if not math.isfinite(gain) or gain < 0:
        # A negative value here is most often a dB figure passed where a factor belongs.
        raise ValueError(f"{name} must be a finite linear gain >= 0 (not dB), got {gain}")


def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Saturating sum of two int16 signals; the shorter is treated as zero-padded."""
    require_pcm(a, "a", np.int16)
    require_pcm(b, "b", np.int16)
    if len(a) < len(b):
        a, b = b, a
    out = a.astype(np.int32)
    out[: len(b)] += b
    clip_int16_in_place(out)
    return out.astype(np.int16)


def apply_gain(pcm: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale int16 PCM by ``gain_db`` decibels, rounding half-to-even and saturating."""
    gain = _db_to_gain(gain_db)
    return saturate_int16(require_pcm(pcm, "pcm", np.int16) * gain)


def fade(pcm: np.ndarray, start_gain: float, end_gain: float) -> np.ndarray:
    """Multiply int16 PCM by a linear ramp of linear gains from ``start_gain`` to ``end_gain``.

    Sample i of n gets ``start + (end - start) * (i + 1) / n``: the last sample gets
    exactly ``end_gain`` (so a fade to 0 ends in true silence), and fading consecutive
    frames from g0 to g1, then g1 to g2, continues the ramp without a step.
    """
    require_pcm(pcm, "pcm", np.int16)
    _check_linear_gain("start_gain", start_gain)
    _check_linear_gain("end_gain", end_gain)
    n = len(pcm)
    return saturate_int16(pcm * (start_gain + (end_gain - start_gain) * (np.arange(1, n + 1) / n)))


# --- reference: one sample at a time over Python numbers -----------------------------


def _saturate_sample(value: float) -> int:
    return max(INT16_MIN, min(INT16_MAX, round(value)))  # round() is half-to-even too


def mix_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Loop version of :func:`mix`, for tests and benchmarks."""
    xa = require_pcm(a, "a", np.int16).tolist()
    xb = require_pcm(b, "b", np.int16).tolist()
    n = max(len(xa), len(xb))
    xa += [0] * (n - len(xa))
    xb += [0] * (n - len(xb))
    return np.array([_saturate_sample(p + q) for p, q in zip(xa, xb, strict=True)], dtype=np.int16)


def apply_gain_reference(pcm: np.ndarray, gain_db: float) -> np.ndarray:
    """Loop version of :func:`apply_gain`, for tests and benchmarks."""
    gain = _db_to_gain(gain_db)
    samples = require_pcm(pcm, "pcm", np.int16).tolist()
    return np.array([_saturate_sample(s * gain) for s in samples], dtype=np.int16)


def fade_reference(pcm: np.ndarray, start_gain: float, end_gain: float) -> np.ndarray:
    """Loop version of :func:`fade`, for tests and benchmarks."""
    samples = require_pcm(pcm, "pcm", np.int16).tolist()
    _check_linear_gain("start_gain", start_gain)
    _check_linear_gain("end_gain", end_gain)
    n = len(samples)
    return np.array(
        [
            _saturate_sample(s * (start_gain + (end_gain - start_gain) * ((i + 1) / n)))
            for i, s in enumerate(samples)
        ],
        dtype=np.int16,
    )
