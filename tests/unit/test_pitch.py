"""Pitch kernel: the fast path equals the direct-sum reference and finds known F0s."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.kernels.pitch import HOP, WIN, pitch, pitch_reference


def _voice(f0: float, n: int, seed: int = 0, noise: float = 0.01) -> np.ndarray:
    t = np.arange(n) / 16000
    x = sum(0.4 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
    x = x + noise * np.random.default_rng(seed).standard_normal(n)
    return (x * 32767 * 0.8).astype(np.int16)


def test_fast_path_equals_reference_on_voice_noise_and_silence() -> None:
    rng = np.random.default_rng(3)
    pcm = np.concatenate(
        [
            _voice(130.0, 2400),
            (3000 * rng.standard_normal(1600)).astype(np.int16),
            np.zeros(1200, np.int16),
            _voice(230.0, 2000, seed=1),
        ]
    )
    f0, voicing = pitch(pcm)
    f0_ref, voicing_ref = pitch_reference(pcm)
    np.testing.assert_allclose(f0, f0_ref, rtol=1e-5)
    np.testing.assert_allclose(voicing, voicing_ref, atol=1e-5)


@pytest.mark.parametrize("f0", [75.0, 120.0, 210.0, 330.0])
def test_finds_the_fundamental_not_an_octave(f0: float) -> None:
    est, voicing = pitch(_voice(f0, 8000))
    assert np.median(est) == pytest.approx(f0, rel=0.02)
    assert np.median(voicing) > 0.9


def test_noise_is_weakly_voiced_and_silence_is_unvoiced() -> None:
    noise = (3000 * np.random.default_rng(0).standard_normal(8000)).astype(np.int16)
    _, voicing = pitch(noise)
    assert np.median(voicing) < 0.5
    f0, voicing = pitch(np.zeros(4000, np.int16))
    assert not f0.any() and not voicing.any()


def test_frames_are_causal_and_counted_like_logmel() -> None:
    pcm = _voice(150.0, 6000)
    f0, _ = pitch(pcm)
    assert len(f0) == 1 + (6000 - WIN) // HOP
    np.testing.assert_array_equal(pitch(pcm[:3000])[0], f0[: 1 + (3000 - WIN) // HOP])
    assert len(pitch(np.zeros(WIN - 1, np.int16))[0]) == 0


def test_float32_input_matches_int16_input() -> None:
    pcm = _voice(180.0, 4000)
    np.testing.assert_allclose(pitch(pcm.astype(np.float32) / 32768)[0], pitch(pcm)[0], rtol=1e-5)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="fmin"):
        pitch(np.zeros(800, np.int16), fmin=300.0, fmax=200.0)
    with pytest.raises(ValueError, match="window"):
        pitch(np.zeros(800, np.int16), fmin=20.0)
    with pytest.raises(ValueError, match="1-D"):
        pitch(np.zeros((2, 800), np.int16))
