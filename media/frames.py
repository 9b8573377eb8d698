"""Audio frame type shared by every transport and the session.

Internally omnivox runs at 16 kHz mono int16 in 20 ms frames; transports resample at the
edge. A frame's timestamp is its first sample's index on the session's media clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One frame of int16 mono PCM with its place on the media clock."""

    pcm: np.ndarray
    sample_rate: int = SAMPLE_RATE
    timestamp: int = 0

    def __post_init__(self) -> None:
        if self.pcm.dtype != np.int16 or self.pcm.ndim != 1:
            raise ValueError("AudioFrame.pcm must be 1-D int16")

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.pcm) / self.sample_rate

    @property
    def t_ms(self) -> float:
        return 1000.0 * self.timestamp / self.sample_rate

    @classmethod
    def silence(cls, timestamp: int = 0, samples: int = FRAME_SAMPLES) -> AudioFrame:
        return cls(np.zeros(samples, dtype=np.int16), SAMPLE_RATE, timestamp)


def split_frames(pcm: np.ndarray, start: int = 0) -> list[AudioFrame]:
    """Cut 16 kHz int16 PCM into 20 ms frames, zero-padding the last one."""
    n = -(-len(pcm) // FRAME_SAMPLES)
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [
        AudioFrame(
            padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES],
            SAMPLE_RATE,
            start + i * FRAME_SAMPLES,
        )
        for i in range(n)
    ]
