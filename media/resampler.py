"""Streaming mono int16 resampling at the phone's edge (8 <-> 16 kHz), through
libswresample (PyAV), not soxr: soxr's streaming filter hands 8<->16 kHz output out in
blocks of up to 100 ms (830 samples every fifth 20 ms chunk at "HQ"), which would add that
much delay in each direction of a call; libswresample returns every chunk's worth at once,
a millisecond or two late."""

from __future__ import annotations

import av
import numpy as np

from omnivox.media.frames import av_mono_frame


class PcmResampler:
    """Streaming mono int16 resampling with a delay of about a millisecond."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self.reset()

    def process(self, pcm: np.ndarray) -> np.ndarray:
        if not len(pcm):  # libswresample fails on an empty frame (an empty media payload)
            return np.zeros(0, dtype=np.int16)
        frame = av_mono_frame(pcm, self.src_rate)
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)

    def reset(self) -> None:
        """Start afresh, dropping what the filter holds."""
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=self.dst_rate)
