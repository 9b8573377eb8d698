"""The Realtime API's audio formats at the edge: 24 kHz PCM16, or G.711 mu-law / A-law
at 8 kHz, to and from omnivox's 16 kHz 20 ms frames (companding: kernels/g711.py;
resampling: media/resampler.py)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import numpy as np

from omnivox.agent.api.realtime.session_config import PcmaFormat, PcmFormat, PcmuFormat
from omnivox.kernels.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from omnivox.media.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, Reframer
from omnivox.media.resampler import PcmResampler

WireFormat = PcmFormat | PcmuFormat | PcmaFormat


class AudioDataError(ValueError):
    """Audio bytes that do not fit the format (the message says why)."""


def _rate(fmt: WireFormat) -> int:
    return fmt.rate if isinstance(fmt, PcmFormat) else 8000


def _pcm16_decode(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise AudioDataError("audio/pcm needs whole 16-bit samples (an even byte count)")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def _pcm16_encode(pcm: np.ndarray) -> bytes:
    return pcm.astype("<i2").tobytes()


def _decoder(fmt: WireFormat) -> Callable[[bytes], np.ndarray]:
    if isinstance(fmt, PcmuFormat):
        return ulaw_decode
    if isinstance(fmt, PcmaFormat):
        return alaw_decode
    return _pcm16_decode


def _encoder(fmt: WireFormat) -> Callable[[np.ndarray], bytes]:
    if isinstance(fmt, PcmuFormat):
        return lambda pcm: ulaw_encode(pcm).tobytes()
    if isinstance(fmt, PcmaFormat):
        return lambda pcm: alaw_encode(pcm).tobytes()
    return _pcm16_encode


def decode_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AudioDataError("audio is not valid base64") from None


class InputAudio:
    """The client's appended audio as 16 kHz 20 ms frames, stamped by samples so far."""

    def __init__(self, fmt: WireFormat) -> None:
        self.format = fmt
        self._decode = _decoder(fmt)
        self._resampler = PcmResampler(_rate(fmt), SAMPLE_RATE)
        self._reframer = Reframer()
        self.samples = 0
        """16 kHz samples handed out (the media clock's input audio)."""

    def frames(self, data: bytes) -> list[AudioFrame]:
        """The whole frames `data` completes (AudioDataError if it is not this format)."""
        if not data:
            return []
        pcm = self._resampler.process(self._decode(data))
        out = []
        for chunk in self._reframer.push(pcm):
            out.append(AudioFrame(chunk, SAMPLE_RATE, self.samples))
            self.samples += FRAME_SAMPLES
        return out


class OutputAudio:
    """The agent's 16 kHz frames in the session's output format."""

    def __init__(self, fmt: WireFormat) -> None:
        self.format = fmt
        self.rate = _rate(fmt)
        self._encode = _encoder(fmt)
        self._resampler = PcmResampler(SAMPLE_RATE, self.rate)

    def encode(self, pcm: np.ndarray) -> bytes:
        return self._encode(self._resampler.process(pcm))

    def reset(self) -> None:
        """A cut reply: drop what the filter holds of it."""
        self._resampler.reset()
