"""8 kHz mu-law at the phone's edge, 16 kHz 20 ms frames inside (resampling:
media/resampler.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from omnivox.kernels.g711 import ulaw_decode, ulaw_encode
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, Reframer
from omnivox.media.resampler import PcmResampler

PHONE_RATE = 8000


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
