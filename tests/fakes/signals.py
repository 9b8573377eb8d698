"""Synthetic 16 kHz signals for tests that need speech-like timing, not speech."""

from __future__ import annotations

import numpy as np


def burst(ms: int, f0: float = 150.0, amplitude: float = 8000.0) -> np.ndarray:
    """A loud tone: a 'word' to level-based speech detection."""
    t = np.arange(ms * 16) / 16000
    return (amplitude * np.sin(2 * np.pi * f0 * t)).astype(np.int16)


def gap(ms: int) -> np.ndarray:
    return np.zeros(ms * 16, np.int16)


def three_words() -> np.ndarray:
    """Three 'words' with a 200 ms pause after the first and 50 ms after the second."""
    return np.concatenate(
        [gap(100), burst(300), gap(200), burst(300), gap(50), burst(300), gap(300)]
    )
