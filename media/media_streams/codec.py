"""8 kHz mu-law at the phone's edge, 16 kHz 20 ms frames inside.

Resampling goes through libswresample (PyAV), not soxr: soxr's streaming filter hands
8<->16 kHz output out in blocks of up to 100 ms (measured: 830 samples every fifth 20 ms
chunk at "HQ", 470 every second or third at "LQ"), which would add that much to both the
time the VAD hears the caller and the time the caller hears the agent. libswresample
returns every chunk at once, about 1 ms late.
"""

from __future__ import annotations

from collections.abc import Callable

import av
import numpy as np

from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, Reframer

PHONE_RATE = 8000


class PcmResampler:
    """Streaming mono int16 resampling with a delay of about a millisecond."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self.reset()

    def process(self, pcm: np.ndarray) -> np.ndarray:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.src_rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)

    def reset(self) -> None:
        """Start afresh, dropping what the filter holds."""
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=self.dst_rate)


class MulawDecoder:
    """The caller's mu-law chunks, of any length, as 16 kHz 20 ms `AudioFrame`s stamped by
    the samples received so far."""

    def __init__(self, on_frame: Callable[[AudioFrame], None]) -> None:
        self._on_frame = on_frame
        self._resampler = PcmResampler(PHONE_RATE, SAMPLE_RATE)
        self._reframer = Reframer()
        self.samples = 0

    def feed(self, mulaw: bytes) -> None:
        if not mulaw:
            return
        pcm = self._resampler.process(ulaw_decode(mulaw))
        for chunk in self._reframer.push(pcm):
            self._on_frame(AudioFrame(chunk, SAMPLE_RATE, self.samples))
            self.samples += FRAME_SAMPLES


class MulawEncoder:
    """The agent's 16 kHz frames as 8 kHz mu-law codes."""

    def __init__(self) -> None:
        self._resampler = PcmResampler(SAMPLE_RATE, PHONE_RATE)

    def encode(self, pcm: np.ndarray) -> tuple[bytes, bool]:
        """The codes for the 8 kHz audio ready so far, and whether it is all silence."""
        phone = self._resampler.process(pcm)
        return ulaw_encode(phone).tobytes(), not phone.any()

    def reset(self) -> None:
        self._resampler.reset()
