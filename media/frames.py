"""Audio frame type shared by every transport and the session.

Internally omnivox runs at 16 kHz mono int16 in 20 ms frames; transports resample at the
edge. A frame's timestamp is its first sample's index on the session's media clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from omnivox.kernels._pcm import require_pcm

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
        require_pcm(self.pcm, "AudioFrame.pcm", np.int16)

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.pcm) / self.sample_rate

    @property
    def t_ms(self) -> float:
        return 1000.0 * self.timestamp / self.sample_rate

    @classmethod
    def silence(cls, timestamp: int = 0, samples: int = FRAME_SAMPLES) -> AudioFrame:
        return cls(np.zeros(samples, dtype=np.int16), SAMPLE_RATE, timestamp)


class Reframer:
    """Cuts a stream of 16 kHz int16 PCM, pushed in pieces of any length, into whole
    20 ms frames; samples that do not fill a frame yet wait for the next push.

    The frames handed out never share memory with the pushed arrays, so a caller may
    reuse its buffer (a decoder's, a talker's) as soon as `push` returns.
    """

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, pcm: np.ndarray) -> list[np.ndarray]:
        """The whole frames that `pcm` completes, oldest first (possibly none)."""
        require_pcm(pcm, "pcm", np.int16)  # concatenate would silently widen other dtypes
        buf = np.concatenate((self._pending, pcm))  # a copy even when nothing is pending
        n = len(buf) // FRAME_SAMPLES
        self._pending = buf[n * FRAME_SAMPLES :].copy()
        return list(buf[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES))

    def flush(self) -> list[np.ndarray]:
        """The pending samples as one last frame padded with silence, or none if there
        are none."""
        if not len(self._pending):
            return []
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        frame[: len(self._pending)] = self._pending
        self.clear()
        return [frame]

    def clear(self) -> None:
        """Drop the pending samples."""
        self._pending = np.zeros(0, dtype=np.int16)


def split_frames(pcm: np.ndarray, start: int = 0) -> list[AudioFrame]:
    """Cut 16 kHz int16 PCM into 20 ms frames, zero-padding the last one."""
    reframer = Reframer()
    chunks = reframer.push(pcm) + reframer.flush()
    return [
        AudioFrame(chunk, SAMPLE_RATE, start + i * FRAME_SAMPLES) for i, chunk in enumerate(chunks)
    ]


def av_mono_frame(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> av.AudioFrame:
    """Mono int16 samples as a PyAV frame (for its codecs and resamplers)."""
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return frame
