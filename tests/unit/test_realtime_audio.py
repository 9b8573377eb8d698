"""The Realtime audio formats at the edge: 24 kHz PCM16 and G.711 at 8 kHz, to and from
omnivox's 16 kHz 20 ms frames."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.agent.api.realtime.audio import (
    AudioDataError,
    InputAudio,
    OutputAudio,
    decode_base64,
)
from omnivox.agent.api.realtime.session_config import PcmaFormat, PcmFormat, PcmuFormat
from omnivox.media.frames import FRAME_SAMPLES


def tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_pcm16_in_any_pieces_becomes_stamped_16khz_frames() -> None:
    audio = InputAudio(PcmFormat())
    data = tone(24000, 1.0).astype("<i2").tobytes()
    frames = []
    for start in range(0, len(data), 1234):  # odd-sized pieces, as a client may send
        piece = data[start : start + 1234]
        if len(piece) % 2:  # keep whole samples per message
            piece = piece[:-1]
        frames += audio.frames(piece)
    assert 45 <= len(frames) <= 50
    assert [f.timestamp for f in frames] == [i * FRAME_SAMPLES for i in range(len(frames))]
    assert all(len(f.pcm) == FRAME_SAMPLES and f.sample_rate == 16000 for f in frames)
    level = np.sqrt(np.mean(np.concatenate([f.pcm for f in frames[5:]]).astype(float) ** 2))
    assert 4500 < level < 6500  # a 8000-peak sine, resampled, keeps its level


def test_odd_pcm16_bytes_are_an_error() -> None:
    with pytest.raises(AudioDataError, match="even"):
        InputAudio(PcmFormat()).frames(b"\x00\x01\x02")


@pytest.mark.parametrize("fmt", [PcmuFormat(), PcmaFormat()])
def test_g711_round_trip_keeps_the_tone(fmt: PcmuFormat | PcmaFormat) -> None:
    out = OutputAudio(fmt)
    assert out.rate == 8000
    encoded = b"".join(out.encode(chunk) for chunk in np.split(tone(16000, 1.0), 50))
    assert 7900 <= len(encoded) <= 8000  # one byte per 8 kHz sample
    frames = InputAudio(fmt).frames(encoded)
    pcm = np.concatenate([f.pcm for f in frames[5:]]).astype(float)
    spectrum = np.abs(np.fft.rfft(pcm))
    assert abs(np.argmax(spectrum) * 16000 / len(pcm) - 440) < 5


def test_pcm16_output_is_24khz_little_endian() -> None:
    out = OutputAudio(PcmFormat())
    encoded = b"".join(out.encode(chunk) for chunk in np.split(tone(16000, 1.0), 50))
    assert abs(len(encoded) - 48000) <= 200
    out.reset()
    assert out.encode(np.zeros(320, np.int16)) is not None


def test_base64_is_checked() -> None:
    assert decode_base64("AAE=") == b"\x00\x01"
    with pytest.raises(AudioDataError, match="base64"):
        decode_base64("not base64!")
