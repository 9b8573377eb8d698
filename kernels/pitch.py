"""Pitch (F0) and voicing per frame by normalised autocorrelation (Boersma, 1993).

Each frame is Hann-windowed and its autocorrelation divided by the window's own
autocorrelation, which undoes the window's taper so a periodic frame scores close to 1
at its period. The best peak between ``fmin`` and ``fmax`` (with a small cost per octave
down, against octave errors; refined by a parabola through its neighbours) gives F0;
its height, clipped to [0, 1], is the voicing strength. Near-silent frames read F0 0
and voicing 0.

Frames follow the same causal grid as :mod:`omnivox.kernels.logmel`: frame ``k`` covers
``[k * hop, k * hop + win)``, no padding. :func:`pitch` is the fast path (one batched
FFT autocorrelation); :func:`pitch_reference` sums each lag directly, frame by frame.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from omnivox.kernels._pcm import as_unit_float64, n_frames

SAMPLE_RATE = 16_000
WIN = 640  # 40 ms: at least two periods of a 60 Hz voice
HOP = 160
FMIN = 60.0
FMAX = 400.0
#: Mean square (of [-1, 1) samples) below which a frame is silence: -70 dBFS.
SILENCE_POWER = 1e-7
#: Score taken off a candidate per octave below ``fmax``. A periodic frame correlates
#: almost as well at twice its period; this small bias (Praat's default) picks the
#: period itself rather than the octave below.
OCTAVE_COST = 0.01


def _lag_range(sample_rate: int, fmin: float, fmax: float, win: int) -> tuple[int, int]:
    if not 0.0 < fmin < fmax:
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    lo = math.ceil(sample_rate / fmax)
    hi = math.floor(sample_rate / fmin)
    if lo < 2 or hi + 1 >= win:
        raise ValueError(
            f"lags {lo}..{hi} do not fit a {win}-sample window; raise win or fmin, or lower fmax"
        )
    return lo, hi


@lru_cache(maxsize=8)
def _window_and_acf(win: int, max_lag: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    window = np.hanning(win + 2)[1:-1]
    acf = np.fft.irfft(np.abs(np.fft.rfft(window, n_fft)) ** 2, n_fft)[: max_lag + 2]
    acf = acf / acf[0]
    window.setflags(write=False)
    acf.setflags(write=False)
    return window, acf


def pitch(
    pcm: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    win: int = WIN,
    hop: int = HOP,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> tuple[np.ndarray, np.ndarray]:
    """``(f0_hz, voicing)`` per frame, each float32 of shape ``(n_frames,)``."""
    lo, hi = _lag_range(sample_rate, fmin, fmax, win)
    x = as_unit_float64(pcm)
    count = n_frames(len(x), win, hop)
    if count == 0:
        empty = np.zeros(0, dtype=np.float32)
        return empty, empty.copy()
    n_fft = 1 << (win + hi + 1).bit_length()  # no circular wrap up to lag hi + 1
    window, window_acf = _window_and_acf(win, hi, n_fft)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:count]
    power = np.mean(frames * frames, axis=1)
    centred = (frames - frames.mean(axis=1, keepdims=True)) * window
    acf = np.fft.irfft(np.abs(np.fft.rfft(centred, n_fft, axis=1)) ** 2, n_fft, axis=1)
    acf = acf[:, : hi + 2]
    energy = np.maximum(acf[:, :1], 1e-30)
    norm = (acf / energy) / window_acf
    lags = np.arange(lo, hi + 1)
    score = norm[:, lo : hi + 1] - OCTAVE_COST * np.log2(lags / lo)
    best = lo + np.argmax(score, axis=1)
    rows = np.arange(count)
    a, b, c = norm[rows, best - 1], norm[rows, best], norm[rows, best + 1]
    denom = a - 2.0 * b + c
    safe = np.where(denom < 0.0, denom, -1.0)
    # At the edge of the lag range the best score need not be a local peak; the clip
    # keeps the parabola's vertex between the neighbours.
    offset = np.clip(np.where(denom < 0.0, 0.5 * (a - c) / safe, 0.0), -0.5, 0.5)
    peak = b - 0.25 * (a - c) * offset
    voiced = power >= SILENCE_POWER
    f0 = np.where(voiced, sample_rate / (best + offset), 0.0)
    voicing = np.where(voiced, np.clip(peak, 0.0, 1.0), 0.0)
    return f0.astype(np.float32), voicing.astype(np.float32)


def pitch_reference(
    pcm: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    win: int = WIN,
    hop: int = HOP,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> tuple[np.ndarray, np.ndarray]:
    """Direct lag sums, one frame at a time; for tests."""
    lo, hi = _lag_range(sample_rate, fmin, fmax, win)
    x = as_unit_float64(pcm)
    count = n_frames(len(x), win, hop)
    window = [0.5 - 0.5 * math.cos(2.0 * math.pi * (i + 1) / (win + 1)) for i in range(win)]
    window_acf = [
        sum(window[i] * window[i + lag] for i in range(win - lag)) for lag in range(hi + 2)
    ]
    f0 = np.zeros(count, dtype=np.float32)
    voicing = np.zeros(count, dtype=np.float32)
    for k in range(count):
        frame = x[k * hop : k * hop + win]
        if float(np.mean(frame * frame)) < SILENCE_POWER:
            continue
        mean = float(np.mean(frame))
        xw = [(frame[i] - mean) * window[i] for i in range(win)]
        acf = [sum(xw[i] * xw[i + lag] for i in range(win - lag)) for lag in range(hi + 2)]
        r0 = max(acf[0], 1e-30)
        norm = [(acf[lag] / r0) / (window_acf[lag] / window_acf[0]) for lag in range(hi + 2)]
        best = max(range(lo, hi + 1), key=lambda lag: norm[lag] - OCTAVE_COST * math.log2(lag / lo))
        a, b, c = norm[best - 1], norm[best], norm[best + 1]
        denom = a - 2.0 * b + c
        offset = min(0.5, max(-0.5, 0.5 * (a - c) / denom)) if denom < 0.0 else 0.0
        f0[k] = sample_rate / (best + offset)
        voicing[k] = min(1.0, max(0.0, b - 0.25 * (a - c) * offset))
    return f0, voicing
