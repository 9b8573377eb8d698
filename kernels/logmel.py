"""Log-mel spectrogram of mono PCM, framed causally on a fixed grid.

Frame ``k`` covers samples ``[k * hop, k * hop + win)`` and nothing is padded, so the
frames of a prefix of a signal are exactly the first frames of the whole signal. That is
what lets a streaming caller (the turn classifier) compute only the frames that new
audio completes and keep the old ones.

The default band is 60-4000 Hz: everything a G.711 phone call carries. Features that stop
at 4 kHz look the same for wideband WebRTC audio and for 8 kHz telephone audio, so one
model serves both transports.

:func:`logmel` is the fast path (strided framing, one batched FFT, one matrix product
with a cached filterbank); :func:`logmel_reference` computes each frame and each mel
band separately from the formulas, and the tests hold the two equal.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from omnivox.kernels._pcm import as_unit_float64, n_frames

SAMPLE_RATE = 16_000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 32
FMIN = 60.0
FMAX = 4000.0
#: Added to the mel power before the log, so digital silence gives a finite floor
#: (about -92 dB below a full-scale sine per band) rather than -inf.
POWER_FLOOR = 1e-9


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def _check_params(
    sample_rate: int, n_fft: int, win: int, hop: int, n_mels: int, fmin: float, fmax: float
) -> None:
    if not 0 < win <= n_fft:
        raise ValueError(f"win must be in 1..n_fft ({n_fft}), got {win}")
    if hop <= 0 or n_mels <= 0:
        raise ValueError(f"hop and n_mels must be positive, got hop={hop}, n_mels={n_mels}")
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2} Hz, got {fmin}, {fmax}")


@lru_cache(maxsize=8)
def mel_filterbank(
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Triangular HTK-mel filters, shape ``(n_mels, n_fft // 2 + 1)``, peak gain 1.

    Cached and read-only: every caller shares one array.
    """
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (center - lower)
    falling = (upper - freqs) / (upper - center)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank.setflags(write=False)
    return bank


@lru_cache(maxsize=8)
def _hann(win: int) -> np.ndarray:
    window = np.hanning(win + 2)[1:-1]  # periodic-ish Hann without zero end points
    window.setflags(write=False)
    return window


def logmel(
    pcm: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    win: int = WIN,
    hop: int = HOP,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Natural-log mel power per frame, shape ``(n_frames, n_mels)``, float32.

    ``pcm`` is int16 (scaled to [-1, 1)) or float32 already in that range.
    """
    _check_params(sample_rate, n_fft, win, hop, n_mels, fmin, fmax)
    x = as_unit_float64(pcm)
    count = n_frames(len(x), win, hop)
    if count == 0:
        return np.zeros((0, n_mels), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:count]
    spectrum = np.fft.rfft(frames * _hann(win), n=n_fft, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel = power @ mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).T
    return np.log(mel + POWER_FLOOR).astype(np.float32)


def logmel_reference(
    pcm: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    win: int = WIN,
    hop: int = HOP,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """One frame and one triangle at a time, straight from the definitions; for tests."""
    _check_params(sample_rate, n_fft, win, hop, n_mels, fmin, fmax)
    x = as_unit_float64(pcm)
    count = n_frames(len(x), win, hop)
    mel_edges = np.linspace(float(_hz_to_mel(fmin)), float(_hz_to_mel(fmax)), n_mels + 2)
    hz_edges = [float(_mel_to_hz(m)) for m in mel_edges]
    window = [0.5 - 0.5 * np.cos(2.0 * np.pi * (i + 1) / (win + 1)) for i in range(win)]
    out = np.zeros((count, n_mels), dtype=np.float32)
    for k in range(count):
        segment = np.zeros(n_fft)
        for i in range(win):
            segment[i] = x[k * hop + i] * window[i]
        power = np.abs(np.fft.rfft(segment)) ** 2
        for m in range(n_mels):
            lo, mid, hi = hz_edges[m], hz_edges[m + 1], hz_edges[m + 2]
            total = 0.0
            for b, p in enumerate(power):
                f = b * sample_rate / n_fft
                if lo < f < hi:
                    weight = (f - lo) / (mid - lo) if f <= mid else (hi - f) / (hi - mid)
                    total += weight * p
            out[k, m] = np.log(total + POWER_FLOOR)
    return out
