"""Finding the chirp again: the echo path's delay and level (media/local_audio/echo_path.py)."""

from __future__ import annotations

import numpy as np

from omnivox.lab.simulate import EchoPath
from omnivox.media.local_audio.echo_path import chirp, estimate_echo_path


def recorded(played: np.ndarray, delay_ms: float, gain_db: float, noise_dbfs: float) -> np.ndarray:
    """What a microphone hears: `played` through a reverberant room, plus noise."""
    ir = EchoPath(gain_db=gain_db, delay_ms=delay_ms).impulse_response()
    echo = np.convolve(played.astype(float), ir)[: len(played)]
    noise = np.random.default_rng(1).standard_normal(len(played)) * 32768 * 10 ** (noise_dbfs / 20)
    return np.clip(np.rint(echo + noise), -32768, 32767).astype(np.int16)


def measurement() -> np.ndarray:
    signal = chirp()
    return np.concatenate([signal, np.zeros(24_000 - len(signal), np.int16)])


def test_the_chirp_is_a_faded_sweep_at_its_level() -> None:
    signal = chirp(level_dbfs=-12.0)
    assert len(signal) == 4800
    assert abs(int(np.max(np.abs(signal))) - round(32767 * 10 ** (-12 / 20))) <= 1
    assert abs(int(signal[0])) < 50 and abs(int(signal[-1])) < 50


def test_delay_and_level_through_a_room() -> None:
    played = measurement()
    for delay_ms in (40.0, 183.0, 420.0):
        est = estimate_echo_path(played, recorded(played, delay_ms, -20.0, -60.0))
        assert est is not None
        assert abs(est.delay_ms - delay_ms) <= 1.0
        # The level of all that comes back, reflections included.
        assert -26.0 < est.gain_db < -14.0


def test_no_echo_path_is_none() -> None:
    played = measurement()
    quiet = np.random.default_rng(2).standard_normal(len(played)) * 30
    assert estimate_echo_path(played, quiet.astype(np.int16)) is None
    assert estimate_echo_path(np.zeros(100, np.int16), quiet.astype(np.int16)) is None
    assert estimate_echo_path(played, played[:100]) is None  # too short to hold it
