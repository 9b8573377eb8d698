"""Measuring the echo path at start: a short chirp is played and found again in the
microphone by cross-correlation, which gives the delay from handing a frame to the
speaker to hearing it (output buffering, the room, input buffering) and how loud it
comes back. The echo canceller gets the delay as its hint; the echo gate uses both.

Pure: the chirp is a function of the rate, the estimate a function of what was played
and what was recorded (both 16 kHz, sample-aligned as the transport exchanged them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnivox.media.frames import SAMPLE_RATE

CHIRP_MS = 300
MEASURE_MS = 1500
"""How long the measurement listens: the chirp plus the longest delay it can find."""


def chirp(level_dbfs: float = -12.0, ms: int = CHIRP_MS, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A linear sweep 300 Hz -> 4 kHz (speech's band, where the echo matters), faded in
    and out so it clicks nowhere; int16 at `level_dbfs` peak."""
    n = rate * ms // 1000
    t = np.arange(n) / rate
    f0, f1 = 300.0, 4000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))
    x = np.sin(phase) * fade * 32767 * 10 ** (level_dbfs / 20)
    return np.rint(x).astype(np.int16)


@dataclass(frozen=True, slots=True)
class EchoPathEstimate:
    delay_ms: float
    gain_db: float
    """The echo's level relative to what was played (loudspeaker volume, distance, mic
    gain), reflections included."""
    clarity: float
    """The correlation peak over its RMS: how sure the estimate is."""


MIN_CLARITY = 6.0
"""Below this the peak is noise: no echo path was found (a headset, a muted speaker)."""


def estimate_echo_path(
    played: np.ndarray, recorded: np.ndarray, rate: int = SAMPLE_RATE
) -> EchoPathEstimate | None:
    """Where `played` (int16) reappears in `recorded` (int16, same start): None if it
    does not, clearly."""
    p = np.trim_zeros(played.astype(np.float64), "b")  # the silence after it says nothing
    r = recorded.astype(np.float64)
    if len(r) < len(p) or not np.any(p):
        return None
    n = 1 << int(np.ceil(np.log2(len(r) + len(p))))
    corr = np.fft.irfft(np.fft.rfft(r, n) * np.conj(np.fft.rfft(p, n)), n)[: len(r) - len(p) + 1]
    lag = int(np.argmax(np.abs(corr)))
    peak = abs(corr[lag])
    floor = float(np.sqrt(np.mean(corr**2))) + 1e-9
    clarity = peak / floor
    if clarity < MIN_CLARITY or peak == 0:
        return None
    # The level of all that comes back while the chirp plays there (the direct sound and
    # the room's reflections): what the echo gate compares the microphone with.
    back = r[lag : lag + len(p)]
    gain_db = 10 * np.log10((float(np.dot(back, back)) + 1e-9) / float(np.dot(p, p)))
    return EchoPathEstimate(1000.0 * lag / rate, float(gain_db), float(clarity))
