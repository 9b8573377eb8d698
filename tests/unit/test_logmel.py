"""Log-mel kernel: the fast path equals the per-frame reference, and frames are causal."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.kernels._pcm import n_frames
from omnivox.kernels.logmel import (
    FMAX,
    FMIN,
    HOP,
    N_FFT,
    N_MELS,
    WIN,
    logmel,
    logmel_reference,
    mel_filterbank,
)


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    x += 0.05 * rng.standard_normal(n)
    return np.clip(x * 32767, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("n", [WIN, WIN + HOP - 1, 2400, 4000])
def test_fast_path_equals_reference_int16(n: int) -> None:
    pcm = _speechlike(n)
    np.testing.assert_allclose(logmel(pcm), logmel_reference(pcm), rtol=0, atol=1e-4)


def test_fast_path_equals_reference_float32_and_other_params() -> None:
    pcm = _speechlike(3000, seed=1).astype(np.float32) / 32768
    kw = dict(sample_rate=8000, n_fft=256, win=200, hop=80, n_mels=20, fmin=100.0, fmax=3800.0)
    np.testing.assert_allclose(logmel(pcm, **kw), logmel_reference(pcm, **kw), atol=1e-4)


def test_frames_of_a_prefix_are_the_first_frames_of_the_whole() -> None:
    pcm = _speechlike(8000)
    whole = logmel(pcm)
    prefix = logmel(pcm[:5000])
    assert whole.shape == (n_frames(8000, WIN, HOP), N_MELS)
    np.testing.assert_array_equal(whole[: len(prefix)], prefix)


def test_short_input_gives_no_frames() -> None:
    assert logmel(np.zeros(WIN - 1, np.int16)).shape == (0, N_MELS)
    assert n_frames(WIN, WIN, HOP) == 1 and n_frames(WIN + HOP, WIN, HOP) == 2


def test_a_tone_lights_the_band_that_holds_it() -> None:
    t = np.arange(4000) / 16000
    pcm = (10000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    bank = mel_filterbank()
    freqs = np.arange(N_FFT // 2 + 1) * 16000 / N_FFT
    expected = int(np.argmax(bank[:, int(np.argmin(abs(freqs - 1000)))]))
    assert int(np.argmax(logmel(pcm).mean(axis=0))) == expected


def test_filterbank_shape_peak_and_band() -> None:
    bank = mel_filterbank()
    assert bank.shape == (N_MELS, N_FFT // 2 + 1)
    assert np.all(bank.max(axis=1) >= 0.5) and bank.max() <= 1.0  # no empty band
    freqs = np.arange(N_FFT // 2 + 1) * 16000 / N_FFT
    assert not bank[:, (freqs <= FMIN) | (freqs >= FMAX)].any()
    assert not bank.flags.writeable


def test_silence_reads_a_finite_floor() -> None:
    out = logmel(np.zeros(1600, np.int16))
    assert np.all(np.isfinite(out)) and np.allclose(out, np.log(1e-9))


@pytest.mark.parametrize(
    ("pcm", "error", "text"),
    [
        (np.zeros((2, 800), np.int16), ValueError, "1-D"),
        (np.zeros(800, np.float64), TypeError, "dtype"),
        ([0] * 800, TypeError, "numpy array"),
    ],
)
def test_bad_input_is_named(pcm: object, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        logmel(pcm)


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="fmax"):
        logmel(np.zeros(800, np.int16), fmax=9000.0)
    with pytest.raises(ValueError, match="win"):
        logmel(np.zeros(800, np.int16), win=1024)
