"""Signal level in dBFS: RMS and peak of int16 PCM, per buffer or per frame.

0 dBFS is the level of a full-scale square wave (RMS or peak of 32768), so a full-scale
sine reads -3.01 dBFS RMS and 0 dBFS peak. Silence reads ``SILENCE_DBFS`` (-100 dBFS)
rather than -inf: levels go into JSON events and Prometheus gauges, where -inf is not a
valid number, and nothing below -100 dBFS matters for a 16-bit voice signal (one LSB of
dither already measures about -101 dBFS RMS).
"""

from __future__ import annotations

import math

import numpy as np

from omnivox.kernels._pcm import FULL_SCALE, require_pcm

#: Floor for every level this module returns: silence and anything quieter read this.
SILENCE_DBFS = -100.0


def _nonempty_pcm(pcm: np.ndarray) -> np.ndarray:
    require_pcm(pcm, "pcm", np.int16)
    if len(pcm) == 0:
        raise ValueError("pcm is empty: the level of no samples is undefined")
    return pcm


def _check_frame(frame: int) -> None:
    if isinstance(frame, bool) or not isinstance(frame, int | np.integer) or frame <= 0:
        raise ValueError(f"frame must be a positive number of samples, got {frame!r}")


def _power_db(mean_square: float) -> float:
    if mean_square == 0:
        return SILENCE_DBFS
    return max(10.0 * math.log10(mean_square / FULL_SCALE**2), SILENCE_DBFS)


def rms_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 PCM in dBFS, floored at ``SILENCE_DBFS``."""
    x = _nonempty_pcm(pcm).astype(np.float64)
    # Sums of int16 squares are exact in float64 up to 2**23 samples, so this matches the
    # integer reference exactly; BLAS dot is the fastest exact-enough sum numpy has.
    return _power_db(float(np.dot(x, x)) / len(x))


def frame_dbfs(pcm: np.ndarray) -> float:
    """RMS level of one media frame, which may be empty (nothing to send or heard that
    tick): that reads as silence rather than an error."""
    return rms_dbfs(pcm) if len(pcm) else SILENCE_DBFS


def peak_dbfs(pcm: np.ndarray) -> float:
    """Peak level of int16 PCM in dBFS (-32768 reads 0 dBFS), floored at ``SILENCE_DBFS``."""
    x = _nonempty_pcm(pcm)
    peak = max(int(x.max()), -int(x.min()))  # np.abs(-32768) overflows int16
    return _power_db(float(peak) ** 2)


def frame_levels(pcm: np.ndarray, frame: int) -> np.ndarray:
    """RMS dBFS of each complete ``frame``-sample frame (float64); a trailing partial
    frame is left out, so the result has ``len(pcm) // frame`` entries."""
    require_pcm(pcm, "pcm", np.int16)
    _check_frame(frame)
    n = len(pcm) // frame
    x = pcm[: n * frame].reshape(n, frame).astype(np.float64)
    mean_square = np.einsum("ij,ij->i", x, x) / frame
    with np.errstate(divide="ignore"):  # log10(0) is -inf, which the floor then replaces
        return np.maximum(10.0 * np.log10(mean_square / FULL_SCALE**2), SILENCE_DBFS)


# --- reference: plain loops over Python ints -----------------------------------------


def rms_dbfs_reference(pcm: np.ndarray) -> float:
    """Loop version of :func:`rms_dbfs`, for tests and benchmarks."""
    samples = _nonempty_pcm(pcm).tolist()
    return _power_db(sum(s * s for s in samples) / len(samples))


def peak_dbfs_reference(pcm: np.ndarray) -> float:
    """Loop version of :func:`peak_dbfs`, for tests and benchmarks."""
    return _power_db(float(max(abs(s) for s in _nonempty_pcm(pcm).tolist())) ** 2)


def frame_levels_reference(pcm: np.ndarray, frame: int) -> np.ndarray:
    """Loop version of :func:`frame_levels`, for tests and benchmarks."""
    require_pcm(pcm, "pcm", np.int16)
    _check_frame(frame)
    samples = pcm.tolist()
    levels = []
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = samples[start : start + frame]
        levels.append(_power_db(sum(s * s for s in chunk) / frame))
    return np.array(levels, dtype=np.float64)
